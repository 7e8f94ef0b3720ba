# Sourced by install-deps.sh and prepare.sh: what was built is recorded by the sources' content (a
# hash), not by file times: a fresh checkout or `git switch` makes every file look new, and nothing
# needs building when the content is the same.
build_stamp=dist/.gatehouse-sources.sha256
sources_sum() {
  find src bench web/src web/index.html web/vite.config.ts web/tsconfig.json tsconfig.json \
    tsconfig.build.json package-lock.json -type f -print0 2>/dev/null | LC_ALL=C sort -z |
    xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}
# Whether dist/ and web/dist/ were built from the sources as they are now.
built_from_sources() {
  [[ -f dist/src/cli/main.js && -f web/dist/index.html && -f $build_stamp ]] &&
    [[ "$(cat "$build_stamp")" == "$(sources_sum)" ]]
}
