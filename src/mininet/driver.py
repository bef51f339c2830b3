#!/usr/bin/python3
"""Mininet as a client of `score controller` (issue 10). Run by mininet.system.test.ts.

Builds one of Mininet's own topologies (LinearTopo, TreeTopo, TorusTopo, SingleSwitchTopo:
shapes we did not choose) with every node name carrying the run's prefix (so interfaces and
host shells cannot clash with anything else on the machine), against the controller at
127.0.0.1:PORT, with user-space OVS switches speaking OpenFlow 1.3 and hosts whose IPv6 is
off (silent until pinged). Open vSwitch is the caller's isolated instance: every ovs-vsctl
Mininet runs inherits OVS_RUNDIR/OVS_DBDIR from this process's environment.

Usage: driver.py PREFIX PORT TOPO [steps...]; TOPO is linear,N | tree,D,F | torus,X,Y | single,N.
Steps: pingall, move (h3's cable from its switch to the first switch, port 10, like the
issue), forge (capture one LLDP probe in the first host, replay it from another host 6 times
every 0.5 s), linkdown (first switch-to-switch link of the first switch down), local (the
first switch's LOCAL interface up, one broadcast frame out of it). One JSON object per line
on stdout: {"step": ..., ...}, each answered by a line on stdin. Exit 0 when the script ran (the caller judges the results).
"""
import json
import subprocess
import sys
import time
from functools import partial

from mininet.log import setLogLevel
from mininet.net import Mininet
from mininet.node import OVSSwitch, RemoteController
from mininet.topo import LinearTopo, SingleSwitchTopo, Topo
from mininet.topolib import TorusTopo, TreeTopo


def out(**kw):
    """One result line; then wait for the caller to look at the controller before going on."""
    print(json.dumps(kw), flush=True)
    if kw.get('step') != 'down':
        sys.stdin.readline()


class Prefixed(Topo):
    """The same graph, ports in the same order, every name prefixed; dpids as Mininet would give."""

    def build(self, inner, prefix):
        import re
        for n in inner.nodes():
            info = dict(inner.nodeInfo(n))
            info.pop('isSwitch', None)
            if inner.isSwitch(n):
                if 'dpid' not in info:
                    info['dpid'] = '%x' % int(re.findall(r'\d+', n)[0])
                self.addSwitch(prefix + n, **info)
            else:
                self.addHost(prefix + n, **info)
        for a, b, info in inner.links(sort=False, withInfo=True):
            info = dict(info)
            info.pop('node1', None)
            info.pop('node2', None)
            self.addLink(prefix + a, prefix + b, **info)


def topo_of(spec):
    kind, *args = spec.split(',')
    n = [int(x) for x in args]
    if kind == 'linear':
        return LinearTopo(k=n[0], n=1)
    if kind == 'tree':
        return TreeTopo(depth=n[0], fanout=n[1])
    if kind == 'torus':
        return TorusTopo(n[0], n[1])
    if kind == 'single':
        return SingleSwitchTopo(k=n[0])
    raise SystemExit('unknown topology ' + spec)


def loss(net, tries=3):
    """Mininet's pingall; a first round may lose pings while paths are set up: up to `tries`."""
    first = None
    for _ in range(tries):
        pct = net.pingAll(timeout='1')
        first = pct if first is None else first
        if pct == 0:
            break
    return first, pct


def vsctl(*args):
    subprocess.run(['ovs-vsctl', *args], check=True, capture_output=True)


def ping_until(src, ip, limit_s):
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit_s:
        if ' 0% packet loss' in src.cmd('ping -c1 -W1 %s' % ip):
            return time.monotonic() - t0
    return None


def main():
    prefix, port, spec, *steps = sys.argv[1:]
    setLogLevel('warning')
    inner = topo_of(spec)
    net = Mininet(
        topo=Prefixed(inner=inner, prefix=prefix),
        switch=partial(OVSSwitch, datapath='user', protocols='OpenFlow13', failMode='secure'),
        controller=partial(RemoteController, ip='127.0.0.1', port=int(port)),
        autoSetMacs=False,
        cleanup=False,
        waitConnected=True,
    )
    try:
        net.start()
        for h in net.hosts:
            h.cmd('sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1')
        out(step='up', hosts={h.name[len(prefix):]: {'mac': h.MAC(), 'ip': h.IP()} for h in net.hosts},
            switches={s.name[len(prefix):]: int(s.dpid, 16) for s in net.switches})
        for step in steps:
            if step == 'pingall':
                first, last = loss(net)
                out(step='pingall', first=first, loss=last)
            elif step == 'move':
                # the input: h3 from its switch (port 1) to the first switch, port 10
                h1, h2, h3 = (net.get(prefix + n) for n in ('h1', 'h2', 'h3'))
                intf = h3.intf().link.intf2 if h3.intf().link.intf1.node == h3 else h3.intf().link.intf1
                old_sw = intf.node
                first_sw = net.switches[0]
                vsctl('del-port', old_sw.name, intf.name)
                vsctl('add-port', first_sw.name, intf.name, '--', 'set', 'Interface', intf.name, 'ofport_request=10')
                t1 = ping_until(h1, h3.IP(), 10)
                t2 = ping_until(h2, h3.IP(), 10)
                out(step='move', mac=h3.MAC(), to=int(first_sw.dpid, 16), h1=t1, h2=t2)
            elif step == 'forge':
                hosts = net.hosts
                a, b = hosts[0], hosts[2]
                cap = a.cmd("/usr/bin/python3 -c \"from scapy.all import sniff; p = sniff(iface='%s', filter='ether proto 0x88cc', count=1, timeout=10); print('HEX' + bytes(p[0]).hex() if p else 'NONE')\"" % a.intf().name)
                frame = next((w[3:] for w in cap.split() if w.startswith('HEX')), None)
                if frame is None:
                    out(step='forge', captured=False, detail=cap[-300:])
                    continue
                for _ in range(6):
                    b.cmd("/usr/bin/python3 -c \"from scapy.all import sendp, Ether; sendp(Ether(bytes.fromhex('%s')), iface='%s', verbose=False)\"" % (frame, b.intf().name))
                    time.sleep(0.5)
                first, last = loss(net)
                out(step='forge', captured=True, first=first, loss=last)
            elif step == 'linkdown':
                s = net.switches[0]
                peer = next(l for l in net.links if (l.intf1.node == s and l.intf2.node in net.switches) or (l.intf2.node == s and l.intf1.node in net.switches))
                a, b = peer.intf1.node.name, peer.intf2.node.name
                net.configLinkStatus(a, b, 'down')
                time.sleep(1)
                first, last = loss(net)
                out(step='linkdown', a=a[len(prefix):], b=b[len(prefix):], first=first, loss=last)
            elif step == 'local':
                s = net.switches[0]
                subprocess.run(['ip', 'link', 'set', s.name, 'up'], check=True)
                subprocess.run(['/usr/bin/python3', '-c', "from scapy.all import sendp, Ether, ARP; sendp(Ether(src='be:ef:00:00:00:01', dst='ff:ff:ff:ff:ff:ff')/ARP(hwsrc='be:ef:00:00:00:01', psrc='10.255.0.1', pdst='10.255.0.2'), iface='%s', verbose=False)" % s.name], check=True)
                time.sleep(1)
                first, last = loss(net)
                out(step='local', dpid=int(s.dpid, 16), first=first, loss=last)
            else:
                raise SystemExit('unknown step ' + step)
    finally:
        net.stop()
        out(step='down')


if __name__ == '__main__':
    main()
