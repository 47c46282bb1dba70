export { hangUp, MAX_BODY_BYTES, readBody, sendAnswer, SimulatorServer } from './http';
export type { HttpAnswer, InternalErrorAnswer } from './http';
export { answerControl, controlError } from './control';
export type { ControlCall } from './control';
export { readFlags, runSimulatorCli, usageText } from './cli';
export type { CliOption, SimulatorCli, StartedSimulator, UsagePage } from './cli';
