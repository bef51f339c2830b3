/**
 * OpenFlow 1.3 switch connections: the listener (server.ts), one switch's state machine
 * (connection.ts), request/reply correlation (requests.ts), the controller's commands as messages
 * (translate.ts) and the runtime's DataPlane over real switches (dataplane.ts).
 */
export { OfConnection, DEFAULT_TIMERS, errorReplyFor, formatDpidHex } from './connection.ts';
export type { ConnectionEvents, ConnectionOptions, ConnectionState, ConnectionStats, ConnectionTimers, ControllerRole } from './connection.ts';
export { OfServer, DEFAULT_OPENFLOW_PORT } from './server.ts';
export type { OfServerEvents, OfServerOptions, TlsOptions } from './server.ts';
export { RequestTracker, mergeMultipart, switchError } from './requests.ts';
export { commandToMessage, describeCommand, flowStatEntry, isSwitchPort, portInfo, portStatEntries, portStatusReason, toMatch } from './translate.ts';
export { openflowDataPlane } from './dataplane.ts';
export type { OpenflowDataPlane, OpenflowDataPlaneOptions } from './dataplane.ts';
export { hex, silentLog } from './log.ts';
export type { LogLevel, OfLog } from './log.ts';
