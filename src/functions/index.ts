import type { Services } from '../composition';
import type { FunctionDefinition } from '../runtime/function-table';
import { apiFunctions } from './api';
import { consoleFunction } from './console';
import { healthFunction } from './health';
import { deadLetterFunctions, schedulerFunction, syncMovesFunction, syncRunsFunction, syncWritesFunction } from './pipeline';

/**
 * The function table: every trigger the product has, served by both hosts. Building it only
 * wires handlers to `services`; nothing connects until a handler runs.
 */
export function createFunctionTable(services: Services): FunctionDefinition[] {
  return [
    healthFunction(services),
    ...apiFunctions(services),
    consoleFunction(),
    schedulerFunction(services),
    syncRunsFunction(services),
    syncWritesFunction(services),
    syncMovesFunction(services),
    ...deadLetterFunctions(services),
  ];
}
