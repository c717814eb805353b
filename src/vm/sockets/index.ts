/** The VM's simulated sockets: the world of an object, its sockets, and the sock_ops events. */
export { AddressFamily, formatIp, parseIp, type IpAddress } from './address.js';
export { attachSocketProgram, type VmSocketAttachOptions } from './attach.js';
export { SockOp, SockOpsCbFlag, SOCK_OPS_ALL_CB_FLAGS } from './sock-ops-events.js';
export { IpProtocol, SocketError, SocketType, TcpState, VmSocket, type Endpoint, type SockView } from './socket.js';
export { SockErrno, SocketWorld, socketWorld, type SockOpsLink, type SockOpsRunner, type SocketFactoryOptions, type TcpPairOptions } from './world.js';
