import type { FunctionDefinition } from './table';
import { health } from './health';
import { scheduler, syncMoves, syncRuns, syncWrites } from './pipeline';

/** The function table: every trigger the product has, served by both hosts. */
export const functionTable: FunctionDefinition[] = [health, scheduler, syncRuns, syncWrites, syncMoves];
