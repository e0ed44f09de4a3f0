import type { ScheduleConfig } from './config.js';

/** What a schedule remembers between epochs (kept in checkpoints). */
export interface ScheduleState {
  /** Plateau: current factor applied to the base rate, best dev RMSE seen, epochs without improvement. */
  multiplier: number;
  best: number | null;
  badEpochs: number;
}

export function initialScheduleState(): ScheduleState {
  return { multiplier: 1, best: null, badEpochs: 0 };
}

/** Learning rate for a 0-based epoch. */
export function learningRateAt(schedule: ScheduleConfig, baseRate: number, epoch: number, epochs: number, state: ScheduleState): number {
  switch (schedule.type) {
    case 'constant':
      return baseRate;
    case 'step':
      return baseRate * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
    case 'cosine':
      return schedule.minLearningRate + ((baseRate - schedule.minLearningRate) * (1 + Math.cos((Math.PI * epoch) / epochs))) / 2;
    case 'plateau':
      return Math.max(schedule.minLearningRate, baseRate * state.multiplier);
  }
}

/** After an epoch: the plateau schedule lowers its rate when dev RMSE stops improving. */
export function afterEpoch(schedule: ScheduleConfig, state: ScheduleState, devRmse: number): ScheduleState {
  if (schedule.type !== 'plateau') return state;
  if (state.best === null || devRmse < state.best - schedule.minDelta) return { ...state, best: devRmse, badEpochs: 0 };
  const badEpochs = state.badEpochs + 1;
  if (badEpochs > schedule.patience) return { ...state, multiplier: state.multiplier * schedule.factor, badEpochs: 0 };
  return { ...state, badEpochs };
}

export interface StoppingState {
  best: number | null;
  bestEpoch: number;
  badEpochs: number;
}

export function initialStoppingState(): StoppingState {
  return { best: null, bestEpoch: 0, badEpochs: 0 };
}

/** Tracks the best dev RMSE; `improved` says whether this epoch is the new best. */
export function trackBest(state: StoppingState, devRmse: number, epoch: number, minDelta: number): { state: StoppingState; improved: boolean } {
  if (state.best === null || devRmse < state.best - minDelta) return { state: { best: devRmse, bestEpoch: epoch, badEpochs: 0 }, improved: true };
  return { state: { ...state, badEpochs: state.badEpochs + 1 }, improved: false };
}
