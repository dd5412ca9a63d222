import type { FunctionDefinition } from './table';
import { health } from './health';
import { scheduler } from './scheduler';

/** The function table: every trigger the product has, served by both hosts. */
export const functionTable: FunctionDefinition[] = [health, scheduler];
