import type { FunctionDefinition } from '../runtime/function-table';
import { apiFunctions } from './api';
import { health } from './health';
import { scheduler, syncMoves, syncRuns, syncWrites } from './pipeline';

/** The function table: every trigger the product has, served by both hosts. */
export const functionTable: FunctionDefinition[] = [health, ...apiFunctions, scheduler, syncRuns, syncWrites, syncMoves];
