// The function app on a Flex Consumption plan (Linux, Node), running as the user-assigned
// identity. Every connection is identity-based: no key or connection string with a secret is
// stored in an app setting. App settings are the names src/config.ts reads (or platform
// names); test/unit/infra.test.ts checks that against SETTING_NAMES.

param name string
param planName string
param location string
param tags object = {}

@description('azd service name (azure.yaml) this app is deployed as.')
param serviceName string = 'api'

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: tells the host and DefaultAzureCredential which identity to use.')
param identityClientId string

param storageAccountName string

@description('Blob container holding the deployment package (created by storage.bicep).')
param deploymentContainerName string

param applicationInsightsName string
param keyVaultName string
param keyVaultUri string

@description('<namespace>.servicebus.windows.net')
param serviceBusFullyQualifiedNamespace string

// Product settings (src/config.ts).
@allowed([
  'table'
  'postgres'
  'sqlserver'
])
param stateStore string
param stateTablePrefix string
param stateSqlSchema string

@description('Key Vault secret holding STATE_SQL_URL when the state store is SQL.')
param stateSqlUrlSecretName string

param graphBaseUrl string
param graphBudgetRuPerMinute int
param graphMaxConcurrency int
param graphMaxInlineWaitSeconds int
param graphBudgetShares int
param schedulerCron string
param sourceProbeIntervalSeconds int
param sourceProbeTimeoutSeconds int
param failoverLeaseWaitSeconds int
param messageMaxBytes int

@allowed([
  'trace'
  'debug'
  'information'
  'warning'
  'error'
])
param logLevel string
param allowSecretWrite bool

// App Service Authentication (Easy Auth) with Entra ID.
param enableEntraAuth bool
@description('Client id of the API\'s Entra ID app registration (defines the app roles Sync.Admin and Sync.Read).')
param entraClientId string

// Flex Consumption scale.
@description('Most instances per function group. Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@allowed([
  '20'
  '22'
])
param nodeVersion string = '20'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references (STATE_SQL_URL) resolve with the user-assigned identity.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

// Host storage (timers, leases, keys) and the Table Storage state store.
var storageConnectionSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
}

// The Service Bus triggers' connection (connection: 'ServiceBusConnection').
var serviceBusConnectionSettings = {
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusFullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
}

// Telemetry with Entra ID auth (local auth is off on the component).
var monitoringSettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

var productSettings = {
  // DefaultAzureCredential (Key Vault, Service Bus sender, Table Storage, Graph) uses this identity.
  AZURE_CLIENT_ID: identityClientId
  STATE_STORE: stateStore
  STATE_TABLE_PREFIX: stateTablePrefix
  QUEUE_TRANSPORT: 'servicebus'
  KEY_VAULT_URI: keyVaultUri
  // Written out: string(bool) would give 'True', which src/config.ts rejects.
  ALLOW_SECRET_WRITE: allowSecretWrite ? 'true' : 'false'
  // With Entra ID in front, the API also checks the caller's app roles (Sync.Read / Sync.Admin).
  API_ENTRA_ROLES: enableEntraAuth ? 'true' : 'false'
  GRAPH_BASE_URL: graphBaseUrl
  GRAPH_BUDGET_RU_PER_MINUTE: string(graphBudgetRuPerMinute)
  GRAPH_MAX_CONCURRENCY: string(graphMaxConcurrency)
  GRAPH_MAX_INLINE_WAIT_SECONDS: string(graphMaxInlineWaitSeconds)
  GRAPH_BUDGET_SHARES: string(graphBudgetShares)
  SCHEDULER_CRON: schedulerCron
  SOURCE_PROBE_INTERVAL_SECONDS: string(sourceProbeIntervalSeconds)
  SOURCE_PROBE_TIMEOUT_SECONDS: string(sourceProbeTimeoutSeconds)
  FAILOVER_LEASE_WAIT_SECONDS: string(failoverLeaseWaitSeconds)
  MESSAGE_MAX_BYTES: string(messageMaxBytes)
  // Every run ends: the bounds of throttle waits, stalls and planning retries (README "Runs always end").
  RUN_MAX_THROTTLE_WAIT_MINUTES: '120'
  RUN_STALL_MINUTES: '15'
  RUN_PLAN_MAX_ATTEMPTS: '4'
  RUN_PLAN_RETRY_SECONDS: '30'
  LOG_LEVEL: logLevel
}

// The SQL state store URL carries a password, so the setting is a Key Vault reference.
var sqlStateSettings = stateStore == 'table' ? {} : {
  STATE_SQL_URL: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=${stateSqlUrlSecretName})'
  STATE_SQL_SCHEMA: stateSqlSchema
}

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: functionApp
  name: 'appsettings'
  properties: union(storageConnectionSettings, serviceBusConnectionSettings, monitoringSettings, productSettings, sqlStateSettings)
}

// Optional App Service Authentication: callers need an Entra ID token for the app
// registration; the API reads the caller's app roles (Sync.Admin, Sync.Read) from the
// principal the platform passes on. Function keys still apply on top.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (enableEntraAuth) {
  parent: functionApp
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // Liveness probes carry no token.
      excludedPaths: [
        '/api/health'
      ]
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [
            'api://${entraClientId}'
            entraClientId
          ]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output id string = functionApp.id
output name string = functionApp.name
output uri string = 'https://${functionApp.properties.defaultHostName}'
output planName string = plan.name
