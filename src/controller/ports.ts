/**
 * OpenFlow 1.3 port numbers (spec section 7.2.1, `enum ofp_port_no`): 1..0xffffff00 are the
 * switch's own ports; everything above is reserved (IN_PORT, TABLE, NORMAL, FLOOD, ALL,
 * CONTROLLER, LOCAL, ANY) and names a function of the switch, not a cable. A reserved port never
 * has a host or a link behind it: the bridge's LOCAL interface sending IPv6 router solicitations
 * is the switch talking, not a VM. Port 0 is not a valid port either.
 */
export const MAX_PHYSICAL_PORT = 0xffffff00;

/** True for the ports a cable can be plugged into: 1..0xffffff00. */
export function isPhysicalPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= MAX_PHYSICAL_PORT;
}
