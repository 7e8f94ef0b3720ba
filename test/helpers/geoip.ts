import { execFile } from 'node:child_process';
import { chmod, rename } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * A small MaxMind-format database, made with Debian's MaxMind::DB::Writer (libmaxmind-db-writer-perl)
 * as the GeoLite2 files are: each network's country ISO code and autonomous system number.
 * Written beside `path` and renamed over it, as an operator's update would be.
 */
export async function writeGeoipDb(
  path: string,
  networks: Record<string, { country: string; asn: number }>,
): Promise<void> {
  const inserts = Object.entries(networks)
    .map(
      ([net, v]) =>
        `$tree->insert_network('${net}', { country => { iso_code => '${v.country}' }, autonomous_system_number => ${v.asn} });`,
    )
    .join('\n');
  const script = `
use MaxMind::DB::Writer::Tree;
my $tree = MaxMind::DB::Writer::Tree->new(
  ip_version => 6, record_size => 24, database_type => 'GeoLite2-Country', languages => ['en'],
  description => { en => 'Gatehouse test' }, remove_reserved_networks => 0,
  map_key_type_callback => sub { { country => 'map', iso_code => 'utf8_string', autonomous_system_number => 'uint32' }->{$_[0]} },
);
${inserts}
open my $fh, '>:raw', $ARGV[0] or die; $tree->write_tree($fh); close $fh;
`;
  await run('perl', ['-e', script, `${path}.new`]);
  await chmod(`${path}.new`, 0o644);
  await rename(`${path}.new`, path);
}
