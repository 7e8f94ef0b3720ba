import { PageHeader } from '../components/PageHeader';
import { AlertChannels } from './alerts/AlertChannels';

/** Alerts: the channels alerts are sent to, each with a test (issue 18; the rules come later). */
export function Alerts() {
  return (
    <section aria-labelledby="alerts-title" className="flex flex-col gap-6">
      <PageHeader id="alerts-title" title="Alerts" />
      <AlertChannels />
    </section>
  );
}
