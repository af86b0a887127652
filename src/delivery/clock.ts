// Time is injected: everything that needs "now" takes a Clock, so retry tests drive it instead of sleeping.
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
