// The run's repetitions and measured time per load, from the environment (as bench/run.ts reads them).
export const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
export const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 4000);
