import { PageHeader } from '../components/PageHeader';
import { AlertChannels } from './alerts/AlertChannels';
import { AlertRules } from './alerts/AlertRules';
import { FiringAlerts } from './alerts/FiringAlerts';

/** Alerts (issue 18): what fires now, the rules that fire them, and the channels they go to. */
export function Alerts() {
  return (
    <section aria-labelledby="alerts-title" className="flex flex-col gap-6">
      <PageHeader id="alerts-title" title="Alerts" />
      <FiringAlerts />
      <AlertRules />
      <AlertChannels />
    </section>
  );
}
