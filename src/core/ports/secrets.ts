/** Where passwords, client secrets and certificates live. The state store only holds references. */
export interface Secrets {
  /** Resolves a secret reference (a Key Vault secret name, or an env setting name locally). */
  get(secretRef: string): Promise<string>;
  /** Stores a secret and returns its reference; only when the deployment allows it. */
  set(name: string, value: string): Promise<string>;
}
