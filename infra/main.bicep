// SQL -> SharePoint list sync: everything one environment needs, in its own resource group.
// Deploy with `azd up`, or `az deployment sub create` (see infra/README.md).
targetScope = 'subscription'

// ---------------------------------------------------------------------------------------------
// Environment
// ---------------------------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the environment (azd: AZURE_ENV_NAME). Names the resource group and seeds the unique suffix of every resource name.')
param environmentName string

@minLength(1)
@description('Region for all resources. It must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Resource group to create or reuse. Empty: rg-<environmentName>.')
param resourceGroupName string = ''

// ---------------------------------------------------------------------------------------------
// State store (STATE_STORE)
// ---------------------------------------------------------------------------------------------

@description('Where ledger, cursors, runs and definitions live: Table Storage in the app\'s storage account, or a SQL database you provide.')
@allowed([
  'table'
  'postgres'
  'sqlserver'
])
param stateStore string = 'table'

@description('Prefix of the state store\'s tables when stateStore is table (STATE_TABLE_PREFIX).')
param stateTablePrefix string = 'sync'

@description('Schema of the state store\'s tables when stateStore is postgres or sqlserver (STATE_SQL_SCHEMA).')
param stateSqlSchema string = 'sync_state'

@description('URL of the SQL state store (postgres://... or mssql://...), stored as Key Vault secret state-sql-url. Leave empty to set the secret yourself; ignored when stateStore is table.')
@secure()
param stateSqlUrl string = ''

// ---------------------------------------------------------------------------------------------
// Messaging
// ---------------------------------------------------------------------------------------------

@description('Service Bus tier. Standard: 256 KB per message; Premium: 1 MB and dedicated capacity. MESSAGE_MAX_BYTES follows.')
@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

// ---------------------------------------------------------------------------------------------
// Microsoft Graph (SharePoint)
// ---------------------------------------------------------------------------------------------

@description('Microsoft Graph endpoint (GRAPH_BASE_URL); change only for a national cloud.')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('SharePoint resource units per minute the app may spend in the tenant (GRAPH_BUDGET_RU_PER_MINUTE): 1,250 for up to 1,000 licences, up to 6,250 for 50,000+. Leave headroom for other apps.')
@minValue(60)
@maxValue(1000000)
param graphBudgetRuPerMinute int = 1250

@description('Graph requests in flight at once per instance (GRAPH_MAX_CONCURRENCY).')
@minValue(1)
@maxValue(64)
param graphMaxConcurrency int = 4

@description('Equal shares of the tenant budget, leased through the state store, so that all instances together stay within graphBudgetRuPerMinute (GRAPH_BUDGET_SHARES). At most this many instances spend the budget at once.')
@minValue(1)
@maxValue(400)
param graphBudgetShares int = 8

@description('Seconds one Graph write call waits out throttling before its batch is rescheduled (GRAPH_MAX_INLINE_WAIT_SECONDS).')
@minValue(0)
@maxValue(600)
param graphMaxInlineWaitSeconds int = 30

// ---------------------------------------------------------------------------------------------
// Behaviour
// ---------------------------------------------------------------------------------------------

@description('NCRONTAB (six fields) of the scheduler that starts due runs (SCHEDULER_CRON).')
param schedulerCron string = '0 * * * * *'

@description('Seconds between health probes of each definition\'s sources on the scheduler timer (SOURCE_PROBE_INTERVAL_SECONDS).')
@minValue(10)
param sourceProbeIntervalSeconds int = 60

@description('Seconds one source probe may take before it counts as failed (SOURCE_PROBE_TIMEOUT_SECONDS).')
@minValue(1)
param sourceProbeTimeoutSeconds int = 10

@description('Seconds POST /failover waits for a running run to end before answering 409 (FAILOVER_LEASE_WAIT_SECONDS).')
@minValue(0)
param failoverLeaseWaitSeconds int = 60

@description('Log level (LOG_LEVEL).')
@allowed([
  'trace'
  'debug'
  'information'
  'warning'
  'error'
])
param logLevel string = 'information'

@description('Let the management API accept a password and store it in Key Vault, keeping only the reference (ALLOW_SECRET_WRITE). Grants the app Key Vault Secrets Officer instead of only Secrets User.')
param allowSecretWrite bool = false

// ---------------------------------------------------------------------------------------------
// API authentication
// ---------------------------------------------------------------------------------------------

@description('Require an Entra ID token on the management API (App Service Authentication), on top of function keys. Needs entraClientId.')
param enableEntraAuth bool = false

@description('Client (application) id of the API\'s Entra ID app registration. It must define the app roles Sync.Admin (manage sources, definitions, runs, repairs) and Sync.Read (read only), assigned to the admins and groups that use the API.')
param entraClientId string = ''

// ---------------------------------------------------------------------------------------------
// Scale
// ---------------------------------------------------------------------------------------------

@description('Most Flex Consumption instances per function group (40-1000). Graph throughput is bounded by graphBudgetRuPerMinute, not by instances.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package-${resourceToken}'
var stateSqlUrlSecretName = 'state-sql-url'
// Headroom under the tier's per-message limit for properties and encoding.
var messageMaxBytes = serviceBusSku == 'Premium' ? 1000000 : 250000

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
    sku: serviceBusSku
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    stateSqlUrlSecretName: stateSqlUrlSecretName
    stateSqlUrl: stateStore == 'table' ? '' : stateSqlUrl
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module rbac 'modules/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    allowSecretWrite: allowSecretWrite
  }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  scope: rg
  // Roles first: the host reaches storage, and resolves the Key Vault reference, at start.
  dependsOn: [
    rbac
  ]
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    keyVaultName: keyVault.outputs.name
    keyVaultUri: keyVault.outputs.uri
    serviceBusFullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
    stateStore: stateStore
    stateTablePrefix: stateTablePrefix
    stateSqlSchema: stateSqlSchema
    stateSqlUrlSecretName: stateSqlUrlSecretName
    graphBaseUrl: graphBaseUrl
    graphBudgetRuPerMinute: graphBudgetRuPerMinute
    graphMaxConcurrency: graphMaxConcurrency
    graphBudgetShares: graphBudgetShares
    graphMaxInlineWaitSeconds: graphMaxInlineWaitSeconds
    schedulerCron: schedulerCron
    sourceProbeIntervalSeconds: sourceProbeIntervalSeconds
    sourceProbeTimeoutSeconds: sourceProbeTimeoutSeconds
    failoverLeaseWaitSeconds: failoverLeaseWaitSeconds
    messageMaxBytes: messageMaxBytes
    logLevel: logLevel
    allowSecretWrite: allowSecretWrite
    enableEntraAuth: enableEntraAuth
    entraClientId: entraClientId
    maximumInstanceCount: maximumInstanceCount
  }
}

// ---------------------------------------------------------------------------------------------
// Outputs (azd writes them to .azure/<env>/.env)
// ---------------------------------------------------------------------------------------------

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output SERVICE_API_NAME string = functionApp.outputs.name
output SERVICE_API_URI string = functionApp.outputs.uri
// Grant this identity Microsoft Graph application permissions (Sites.Selected) for SharePoint.
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_MANAGED_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
output SERVICE_BUS_NAMESPACE_NAME string = serviceBus.outputs.name
output SERVICE_BUS_QUEUES array = serviceBus.outputs.queueNames
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output KEY_VAULT_URI string = keyVault.outputs.uri
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString
