// Key Vault for source passwords and connection strings (definitions hold only `secretRef`)
// and, for a SQL state store, the state store URL. Access is by Azure RBAC only: there are no
// access policies, and the function app reads through Key Vault Secrets User (rbac.bicep).

@description('Vault name: 3-24 letters, digits and hyphens.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object = {}

@description('Name of the secret that holds the SQL state store URL.')
param stateSqlUrlSecretName string = 'state-sql-url'

@description('SQL state store URL (postgres:// or mssql://). Empty: the secret is left as it is, set it yourself.')
@secure()
param stateSqlUrl string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Purge protection cannot be turned off again; a deleted vault's name stays taken for
    // the retention period. Secrets that source databases depend on deserve that.
    enablePurgeProtection: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

// Written through the control plane (the deployment's own rights), so nobody needs a data
// role on the vault just to deploy. Skipped when empty so a re-deployment never blanks it.
resource stateSqlUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(stateSqlUrl)) {
  parent: vault
  name: stateSqlUrlSecretName
  properties: {
    value: stateSqlUrl
    contentType: 'text/uri'
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
