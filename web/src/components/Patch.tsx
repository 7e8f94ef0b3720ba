/** One line of a unified diff, coloured by what it does. */
function lineClass(line: string): string {
  if (line.startsWith('+++') || line.startsWith('---')) return 'text-slate-500';
  if (line.startsWith('+')) return 'bg-green-50 text-green-800';
  if (line.startsWith('-')) return 'bg-red-50 text-red-800';
  if (line.startsWith('@@')) return 'text-sky-700';
  return '';
}

/** A unified diff (as the API's snapshot and dry-run answers carry it), line by line. */
export function Patch({ patch }: { patch: string }) {
  // The first line of createTwoFilesPatch is a "====" separator: it says nothing here.
  const lines = patch.replace(/\n+$/, '').split('\n');
  if (lines[0]?.startsWith('===')) lines.shift();
  return (
    <pre className="overflow-x-auto rounded border border-slate-200 bg-white p-2 text-xs leading-5">
      {lines.map((l, i) => (
        <span key={i} className={'block ' + lineClass(l)}>
          {l || ' '}
        </span>
      ))}
    </pre>
  );
}
