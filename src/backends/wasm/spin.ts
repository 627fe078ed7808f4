// How long a thread of the pool spins on a shared word before it sleeps in Atomics.wait.

/** Polls of a control word (about a millisecond) before sleeping in Atomics.wait: waking a sleeper costs tens of µs. */
export const SPIN_POLLS = 200_000;
