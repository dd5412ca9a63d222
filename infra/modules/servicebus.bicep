// Service Bus namespace and the pipeline's three queues (DESIGN §2). Queue names are the ones
// in src/core/ports/bus.ts (QUEUES); test/unit/infra.test.ts keeps the two in step.
// Local (SAS) authentication is off: only Entra ID identities with data roles get in.

@description('Namespace name: 6-50 letters, digits and hyphens, starting with a letter.')
@minLength(6)
@maxLength(50)
param name string

param location string
param tags object = {}

// Basic has neither sessions nor duplicate detection, both of which the pipeline relies on.
@description('Service Bus tier. Standard takes 256 KB per message, Premium 1 MB (MESSAGE_MAX_BYTES follows).')
@allowed([
  'Standard'
  'Premium'
])
param sku string = 'Standard'

@description('Deliveries before a message goes to the dead-letter queue.')
@minValue(1)
@maxValue(100)
param maxDeliveryCount int = 10

// requiresSession: sync-runs carries the definition id as session id, so Service Bus hands one
//   definition's runs to one consumer at a time (one run at a time per definition).
// Duplicate detection: senders set messageId from the run and batch, so a resend after a lost
//   acknowledgement is dropped. It can only be chosen when a queue is created; turning it on
//   later means deleting and re-creating the queue.
var queues = [
  {
    name: 'sync-runs'
    requiresSession: true
  }
  {
    name: 'sync-writes'
    requiresSession: false
  }
  {
    name: 'sync-moves'
    requiresSession: false
  }
]

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
    capacity: sku == 'Premium' ? 1 : null
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queue 'Microsoft.ServiceBus/namespaces/queues@2024-01-01' = [
  for q in queues: {
    parent: namespace
    name: q.name
    properties: {
      requiresSession: q.requiresSession
      requiresDuplicateDetection: true
      duplicateDetectionHistoryTimeWindow: 'PT10M'
      // Five minutes is the most Service Bus allows; the host renews locks beyond it (host.json).
      lockDuration: 'PT5M'
      maxDeliveryCount: maxDeliveryCount
      // A message nobody took in 14 days is dead-lettered, never silently dropped.
      defaultMessageTimeToLive: 'P14D'
      deadLetteringOnMessageExpiration: true
      enableBatchedOperations: true
      enablePartitioning: false
      maxSizeInMegabytes: 1024
    }
  }
]

output id string = namespace.id
output name string = namespace.name
// 'https://<name>.servicebus.windows.net:443/' -> '<name>.servicebus.windows.net' (any cloud).
output fullyQualifiedNamespace string = split(replace(namespace.properties.serviceBusEndpoint, 'https://', ''), ':')[0]
output queueNames array = [for q in queues: q.name]
