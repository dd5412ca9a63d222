import { ConfigurationError, loadConfig } from '../../src/config';

const base = { AzureWebJobsStorage: 'UseDevelopmentStorage=true', QUEUE_TRANSPORT: 'storage' };

describe('settings', () => {
  it('a valid environment gives typed settings with defaults', () => {
    const cfg = loadConfig({ ...base, GRAPH_BUDGET_RU_PER_MINUTE: '2500' });
    expect(cfg.STATE_STORE).toBe('table');
    expect(cfg.GRAPH_BUDGET_RU_PER_MINUTE).toBe(2500);
    expect(cfg.SCHEDULER_CRON).toBe('0 * * * * *');
  });

  it('a bad value stops start-up with a message naming the setting', () => {
    expect(() => loadConfig({ ...base, GRAPH_BUDGET_RU_PER_MINUTE: 'lots' })).toThrow(/GRAPH_BUDGET_RU_PER_MINUTE: must be a whole number/);
    expect(() => loadConfig({ ...base, STATE_STORE: 'cosmos' })).toThrow(/STATE_STORE/);
  });

  it('a setting required by another is named when missing', () => {
    try {
      loadConfig({ STATE_STORE: 'postgres', QUEUE_TRANSPORT: 'servicebus', AzureWebJobsStorage: 'x' });
      throw new Error('expected a ConfigurationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigurationError);
      const names = (error as ConfigurationError).problems.map((p) => p.setting).sort();
      expect(names).toEqual(['STATE_SQL_URL', 'ServiceBusConnection__fullyQualifiedNamespace']);
    }
  });

  it('empty strings count as unset, as blank app settings do', () => {
    expect(loadConfig({ ...base, KEY_VAULT_URI: '' }).KEY_VAULT_URI).toBeUndefined();
  });
});
