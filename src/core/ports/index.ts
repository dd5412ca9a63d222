export * from './bus';
export * from './secrets';
export * from './state';
export * from './logger';
export * from './list-target';
export * from './source';
