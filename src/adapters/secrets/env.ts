import { configError } from '../../core/errors';
import type { Secrets } from '../../core/ports/secrets';
import { checkSecretName, secretMissing } from './errors';

/**
 * Local secrets: a reference `pg-password` is read from the setting `SECRET_PG_PASSWORD`
 * (upper case, "-" → "_"), as `local.settings.json` or the shell provides it. `set` keeps the
 * value in memory only, so a secret the API writes locally never lands on disk.
 */
export class EnvSecrets implements Secrets {
  private readonly written = new Map<string, string>();

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  static settingName(secretRef: string): string {
    return `SECRET_${secretRef.toUpperCase().replace(/-/g, '_')}`;
  }

  async get(secretRef: string): Promise<string> {
    checkSecretName(secretRef);
    const written = this.written.get(secretRef);
    if (written !== undefined) return written;
    const setting = EnvSecrets.settingName(secretRef);
    // an empty value counts: a local database with trust authentication has an empty password
    const value = this.env[setting];
    if (value === undefined) throw secretMissing(secretRef, `set ${setting} in the environment or local settings`);
    return value;
  }

  async set(name: string, value: string): Promise<string> {
    checkSecretName(name);
    if (typeof value !== 'string') throw configError('secrets', 'invalid_secret_value', 'a secret value must be a string');
    this.written.set(name, value);
    return name;
  }
}
