/**
 * "Find computer objects" (leave): validates the EC2 event, asks EC2 whether the instance is
 * really gone (not terminated → "instance-alive": nothing is touched), then lists the objects
 * that carry its exact marker and that every safety rule allows deleting.
 * InvalidInput (malformed event) fails the execution with nothing done.
 */
import { defaultDeps } from './adapters/default-deps';
import type { DepsProvider } from './lib/deps';
import { findObjectsForEvent } from './lib/leave';
import { makeTask } from './lib/task';
import { parseFindObjectsInput } from './lib/validate';

export const makeHandler = (deps: DepsProvider) => makeTask({ workflow: 'leave', step: 'Find computer objects' }, deps, parseFindObjectsInput, findObjectsForEvent);
export const handler = makeHandler(defaultDeps);
