#!/usr/bin/env python3
"""Differential test: the same raw DNS queries to NSD and to our server, responses compared.

Starts NSD (Debian's `nsd`, must be installed) on 127.0.0.1:NSD_PORT with the zones in
../core/testdata, then sends ~1200 queries over UDP and TCP (normal, truncating, EDNS sizes,
malformed, odd opcodes and classes, AXFR/IXFR, TSIG) to both and compares the decoded responses:
header flags, RCODE, counts, and every section's records (names case-insensitive unless --case).

    cargo run -p morgana-dns --example serve -- 127.0.0.1:5354 ../core/testdata/*.zone &
    python3 nsd_diff.py --ours 127.0.0.1:5354

Exit status 1 when a response differs beyond the known divergences listed in KNOWN.
Python 3 standard library only.
"""
import argparse, os, shutil, socket, struct, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ZONES = os.path.join(HERE, '..', 'core', 'testdata')

# Cases where we answer differently from NSD on purpose.
KNOWN = {
    'udp ch version.bind': 'NSD answers version.bind; we refuse it, as NSD with hide-version: yes',
    'udp ixfr udp noauth': 'NSD sends QDCOUNT=1 and no question (malformed); we send a plain FORMERR',
}

TYPES = {1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 41: 'OPT',
         257: 'CAA', 252: 'AXFR', 251: 'IXFR', 255: 'ANY'}
T = {v: k for k, v in TYPES.items()}
T.update(DS=43, DNSKEY=48)


# --- building queries -------------------------------------------------------------------------

def name(n):
    out = b''
    for label in n.rstrip('.').split('.'):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b'\0'


def query(qname, qtype=1, qclass=1, flags=0x0100, qd=1, an=0, ns=0, ar=0, extra=b'', id=0x1234):
    question = name(qname) + struct.pack('>HH', qtype, qclass) if qd else b''
    return struct.pack('>HHHHHH', id, flags, qd, an, ns, ar) + question + extra


def opt(size=4096, ver=0, do=False, rdata=b'', ext=0):
    return b'\0' + struct.pack('>HHBBHH', 41, size, ext, ver, 0x8000 if do else 0, len(rdata)) + rdata


def soa_rr(serial):
    rd = name('ns1.example.com') + name('hostmaster.example.com') + struct.pack('>IIIII', serial, 1, 1, 1, 1)
    return b'\xc0\x0c' + struct.pack('>HHIH', 6, 1, 0, len(rd)) + rd


def tsig_rr():
    rd = name('hmac-sha256') + struct.pack('>HIH', 0, 1700000000, 300) + struct.pack('>H', 32) + b'\0' * 32
    rd += struct.pack('>HHH', 0x1234, 0, 0)
    return name('key') + struct.pack('>HHIH', 250, 255, 0, len(rd)) + rd


def raw_header(flags=0x100, qd=1):
    return struct.pack('>HHHHHH', 1, flags, qd, 0, 0, 0)


def cases():
    udp, tcp = [], []
    names = ['example.com', 'www.example.com', 'web.example.com', 'host1.example.com', 'ext.example.com',
             'loop1.example.com', 'sub.example.com', 'foo.sub.example.com', 'ns.sub.example.com', 'a.wild.example.com',
             'a.b.wild.example.com', 'ent.wild.example.com', 'x.ent.wild.example.com', 'y.ent.wild.example.com',
             'wild.example.com', '*.wild.example.com', '_sip._tcp.example.com', '_tcp.example.com', 'big.example.com',
             'bigcname.example.com', 'tohost.example.com', 'torev.example.com', 'tonx.example.com', 'tosub.example.com',
             'mxwild.example.com', 'mxglue.example.com', 'nope.example.com', 'ns1.example.com', 'mail.example.com',
             'short.example.com', '80.2.0.192.in-addr.arpa', '1.2.0.192.in-addr.arpa', '2.0.192.in-addr.arpa',
             '9.2.0.192.in-addr.arpa', 'opt.test', 't.opt.test', 'u.opt.test', 'deleg.opt.test', 'x.deleg.opt.test',
             'mx.opt.test', 'mixed.opt.test', 'onlytxt.opt.test', 'a.w.opt.test', 'a.c.opt.test', 'case.mixed.opt.test',
             'CASE.MIXED.OPT.TEST', 'up.opt.test', 'up2.opt.test', 'up4.opt.test', 'example.org', 'com', '.',
             'WwW.ExAmPlE.cOm']
    for n in names:
        for t in ['A', 'AAAA', 'MX', 'TXT', 'NS', 'SOA', 'ANY', 'CNAME', 'SRV', 'PTR', 'CAA', 'DS']:
            udp.append(('%s %s' % (n, t), query(n, qtype=T[t])))
    for n in ['big.example.com', 'u.opt.test', 't.opt.test', 'deleg.opt.test', 'x.deleg.opt.test', 'mx.opt.test',
              'example.com']:
        for size in (0, 100, 512, 600, 1232, 1400, 4096):
            for do in (False, True):
                for t in ('TXT', 'MX', 'A'):
                    case = ('%s %s edns %d do=%s' % (n, t, size, do), query(n, qtype=T[t], ar=1, extra=opt(size, do=do)))
                    udp.append(case)
                    if n in ('big.example.com', 'u.opt.test', 'deleg.opt.test', 'mx.opt.test'):
                        tcp.append(case)
    header = raw_header()
    odd = {
        'qr set': query('example.com', flags=0x8100), 'opcode 2': query('example.com', flags=0x1100),
        'notify': query('example.com', qtype=6, flags=0x2400), 'notify other': query('example.org', qtype=6, flags=0x2000),
        'update': query('example.com', flags=0x2800), 'opcode 15 edns': query('example.com', flags=0x7900, ar=1, extra=opt()),
        'qd0': query('example.com', qd=0), 'qd0 edns': query('x', qd=0, ar=1, extra=opt()),
        'qd0 edns v1': query('x', qd=0, ar=1, extra=opt(ver=1)), 'qd2': query('example.com', qd=2),
        'an1': query('example.com', an=1), 'ns1': query('example.com', ns=1),
        'ch version.bind': query('version.bind', qtype=16, qclass=3),
        'ch other edns': query('foo.bind', qtype=16, qclass=3, ar=1, extra=opt()),
        'hs': query('example.com', qclass=4), 'class 42 edns': query('example.com', qclass=42, ar=1, extra=opt()),
        'class none': query('example.com', qclass=254), 'class any A': query('example.com', qclass=255),
        'class any nx': query('nope.example.com', qclass=255),
        'class any nodata': query('host1.example.com', qtype=15, qclass=255),
        'class any cname': query('www.example.com', qclass=255),
        'class any deleg': query('foo.sub.example.com', qclass=255),
        'class any ANY': query('example.com', qtype=255, qclass=255),
        'type 999': query('example.com', qtype=999), 'type 0': query('example.com', qtype=0),
        'type OPT': query('example.com', qtype=41), 'maila': query('example.com', qtype=254),
        'badvers': query('example.com', ar=1, extra=opt(ver=1)),
        'badvers do': query('example.com', ar=1, extra=opt(ver=1, do=True)),
        'two opt': query('example.com', ar=2, extra=opt() + opt()), 'ar2 one opt': query('example.com', ar=2, extra=opt()),
        'rcode in query': query('example.com', flags=0x0103),
        'all flags': query('example.com', flags=0x0100 | 0x0400 | 0x0200 | 0x0020 | 0x0010 | 0x0040),
        'no rd': query('example.com', flags=0), 'trailing': query('example.com', extra=b'\xde\xad'),
        'ptr qname': header + b'\xc0\x0c' + struct.pack('>HH', 1, 1),
        'truncated q': query('example.com')[:-2], 'header only': query('example.com')[:12], 'short': b'\x12\x34\x01\x00\x00',
        'axfr udp': query('example.com', qtype=252), 'axfr udp edns': query('example.com', qtype=252, ar=1, extra=opt()),
        'axfr udp other': query('example.org', qtype=252), 'ixfr udp noauth': query('example.com', qtype=251),
        'opt bad len': query('example.com', ar=1, extra=opt(rdata=b'\x00\x0a\x00\x10ab')),
        'opt unknown option': query('example.com', ar=1, extra=opt(rdata=b'\x00\x63\x00\x02ab')),
        'opt cookie': query('example.com', ar=1, extra=opt(rdata=b'\x00\x0a\x00\x08abcdefgh')),
        'opt nonroot': query('example.com', ar=1, extra=b'\x01a\x00' + opt()[1:]),
        'opt ext rcode': query('example.com', ar=1, extra=opt(ext=5)),
        'label64': header + b'\x40' + b'a' * 64 + b'\0' + struct.pack('>HH', 1, 1),
        'name256': header + (b'\x3f' + b'a' * 63) * 4 + b'\0' + struct.pack('>HH', 1, 1),
        'name255': header + (b'\x3f' + b'a' * 63) * 3 + b'\x3d' + b'a' * 61 + b'\0' + struct.pack('>HH', 1, 1),
        'name255 in zone': header + (b'\x3f' + b'a' * 63) * 3 + b'\x2d' + b'a' * 45 + name('example.com') + struct.pack('>HH', 1, 1),
        'tsig bad': query('example.com', ar=1, extra=name('key') + struct.pack('>HHIH', 250, 255, 0, 0)),
        'tsig': query('example.com', ar=1, extra=tsig_rr()), 'tsig edns': query('example.com', ar=2, extra=opt() + tsig_rr()),
        'additional A rr': query('example.com', ar=1, extra=name('x') + struct.pack('>HHIH', 1, 1, 0, 4) + b'\1\2\3\4'),
        'ds apex': query('example.com', qtype=43), 'dnskey': query('example.com', qtype=48),
        'rrsig': query('example.com', qtype=46), 'nsec': query('example.com', qtype=47),
        'ds rev apex': query('2.0.192.in-addr.arpa', qtype=43),
        'ixfr udp old': query('example.com', qtype=251, ns=1, extra=soa_rr(1)),
        'ixfr udp same': query('example.com', qtype=251, ns=1, extra=soa_rr(2024010101)),
        'ixfr udp old opt': query('opt.test', qtype=251, ns=1, extra=soa_rr(0)),
        'ixfr udp nonapex': query('www.example.com', qtype=251, ns=1, extra=soa_rr(1)),
        'ixfr udp other': query('example.org', qtype=251, ns=1, extra=soa_rr(1)),
    }
    udp += list(odd.items())
    tcp += [('axfr example.com', query('example.com', qtype=252)),
            ('axfr edns', query('example.com', qtype=252, ar=1, extra=opt(do=True))),
            ('axfr opt.test', query('opt.test', qtype=252)), ('axfr rev', query('2.0.192.in-addr.arpa', qtype=252)),
            ('axfr nonapex', query('www.example.com', qtype=252)), ('axfr other', query('example.org', qtype=252)),
            ('ixfr old', query('example.com', qtype=251, ns=1, extra=soa_rr(1))),
            ('ixfr same', query('example.com', qtype=251, ns=1, extra=soa_rr(2024010101))),
            ('ixfr newer', query('example.com', qtype=251, ns=1, extra=soa_rr(2024010105))),
            ('tcp A', query('www.example.com')), ('tcp notify', query('example.com', qtype=6, flags=0x2000))]
    return udp, tcp


# --- decoding responses -----------------------------------------------------------------------

def read_name(m, p):
    labels, end, hops = [], None, 0
    while True:
        length = m[p]
        if length == 0:
            return '.'.join(labels) + '.', end if end is not None else p + 1
        if length & 0xc0 == 0xc0:
            if end is None:
                end = p + 2
            p = ((length & 0x3f) << 8) | m[p + 1]
            hops += 1
            if hops > 100:
                raise ValueError('compression loop')
            continue
        labels.append(m[p + 1:p + 1 + length].decode('latin1'))
        p += 1 + length


def rdata(m, t, p, length):
    d = m[p:p + length]
    if t in (2, 5, 12):
        return read_name(m, p)[0]
    if t == 15:
        return '%d %s' % (struct.unpack('>H', d[:2])[0], read_name(m, p + 2)[0])
    if t == 6:
        a, q = read_name(m, p)
        b, q = read_name(m, q)
        return '%s %s %s' % (a, b, ' '.join(map(str, struct.unpack('>IIIII', m[q:q + 20]))))
    if t == 33:
        return '%d %d %d %s' % (struct.unpack('>HHH', d[:6]) + (read_name(m, p + 6)[0],))
    if t == 1:
        return socket.inet_ntop(socket.AF_INET, d)
    if t == 28:
        return socket.inet_ntop(socket.AF_INET6, d)
    return d.hex()


def decode(m, case=False):
    if m is None:
        return None
    if len(m) < 12:
        return ('short', m.hex())
    _, flags, qd, an, ns, ar = struct.unpack('>HHHHHH', m[:12])
    out = {'flags': flags, 'counts': (qd, an, ns, ar)}
    p, questions = 12, []
    try:
        for _ in range(qd):
            n, p = read_name(m, p)
            t, c = struct.unpack('>HH', m[p:p + 4])
            p += 4
            questions.append((n if case else n.lower(), t, c))
        sections = []
        for count in (an, ns, ar):
            section = []
            for _ in range(count):
                n, p = read_name(m, p)
                t, c, ttl, length = struct.unpack('>HHIH', m[p:p + 10])
                p += 10
                r = rdata(m, t, p, length)
                p += length
                if not case:
                    n, r = n.lower(), r.lower()
                section.append((n, TYPES.get(t, t), c, ttl, r))
            sections.append(section)
        out.update(q=questions, sections=sections, trailing=len(m) - p)
    except Exception as e:  # a response that does not parse is a difference, not a crash
        out['error'] = repr(e)
    return out


# --- transport --------------------------------------------------------------------------------

def send_udp(addr, pkt):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    try:
        s.sendto(pkt, addr)
        return s.recv(65535)
    except socket.timeout:
        return None
    finally:
        s.close()


def send_tcp(addr, pkt):
    """All messages the server sends back within a second of the last one (AXFR may be several)."""
    s = socket.create_connection(addr)
    s.settimeout(1.0)
    s.sendall(struct.pack('>H', len(pkt)) + pkt)
    data = b''
    try:
        while True:
            chunk = s.recv(65535)
            if not chunk:
                break
            data += chunk
            if is_complete(data, pkt):
                break
    except socket.timeout:
        pass
    finally:
        s.close()
    messages, p = [], 0
    while p + 2 <= len(data):
        length = struct.unpack('>H', data[p:p + 2])[0]
        messages.append(data[p + 2:p + 2 + length])
        p += 2 + length
    return messages


def is_complete(data, pkt):
    messages, p = [], 0
    while p + 2 <= len(data):
        length = struct.unpack('>H', data[p:p + 2])[0]
        if p + 2 + length > len(data):
            return False
        messages.append(data[p + 2:p + 2 + length])
        p += 2 + length
    if not messages:
        return False
    is_transfer = len(pkt) > 16 and pkt[12:].find(b'\x00\x00\xfc') >= 0 or pkt[12:].find(b'\x00\x00\xfb') >= 0
    if not is_transfer:
        return True
    soas = sum(1 for m in messages for r in (decode(m).get('sections') or [[]])[0] if r[1] == 'SOA')
    first = decode(messages[0])
    return soas >= 2 or first['flags'] & 0xf != 0 or first['counts'][1] <= 1


# --- NSD ---------------------------------------------------------------------------------------

def start_nsd(port):
    if not shutil.which('nsd'):
        sys.exit('nsd is not installed (apt-get install nsd knot-dnsutils)')
    work = tempfile.mkdtemp(prefix='nsd-diff-')
    zones = ''
    for f in sorted(os.listdir(ZONES)):
        if f.endswith('.zone'):
            shutil.copy(os.path.join(ZONES, f), work)
            zones += 'zone:\n    name: %s\n    zonefile: %s\n    provide-xfr: 127.0.0.1 NOKEY\n' % (f[:-5], f)
    conf = os.path.join(work, 'nsd.conf')
    with open(conf, 'w') as c:
        c.write('server:\n    ip-address: 127.0.0.1@%d\n    port: %d\n    username: ""\n    zonesdir: "%s"\n'
                '    database: ""\n    pidfile: "%s/nsd.pid"\n    xfrdfile: "%s/xfrd.state"\n'
                '    zonelistfile: "%s/zone.list"\n    logfile: "%s/nsd.log"\n    server-count: 1\n'
                'remote-control:\n    control-enable: no\n%s' % (port, port, work, work, work, work, work, zones))
    proc = subprocess.Popen(['nsd', '-d', '-c', conf])
    for _ in range(50):
        if send_udp(('127.0.0.1', port), query('example.com')):
            return proc
        time.sleep(0.1)
    proc.terminate()
    sys.exit('nsd did not start; see %s/nsd.log' % work)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--ours', required=True, help='host:port of the server under test')
    ap.add_argument('--nsd', help='host:port of an NSD already serving ../core/testdata (else one is started)')
    ap.add_argument('--nsd-port', type=int, default=5353, help='port for the NSD this script starts')
    ap.add_argument('--case', action='store_true', help='compare names case-sensitively')
    args = ap.parse_args()
    host, port = args.ours.rsplit(':', 1)
    ours = (host, int(port))
    proc = None
    if args.nsd:
        h, p = args.nsd.rsplit(':', 1)
        nsd = (h, int(p))
    else:
        proc = start_nsd(args.nsd_port)
        nsd = ('127.0.0.1', args.nsd_port)
    try:
        udp_cases, tcp_cases = cases()
        compared, unexpected = 0, 0
        results = [('udp ' + k, lambda a, v=v: decode(send_udp(a, v), args.case)) for k, v in udp_cases]
        results += [('tcp ' + k, lambda a, v=v: [decode(m, args.case) for m in send_tcp(a, v)]) for k, v in tcp_cases]
        for label, ask in results:
            a, b = ask(nsd), ask(ours)
            compared += 1
            if a == b:
                continue
            if label in KNOWN:
                print('known  %s: %s' % (label, KNOWN[label]))
                continue
            unexpected += 1
            print('DIFF   %s\n  nsd : %s\n  ours: %s' % (label, a, b))
        print('%d passed, %d failed' % (compared - unexpected, unexpected))
        return 1 if unexpected else 0
    finally:
        if proc:
            proc.terminate()
            proc.wait()


if __name__ == '__main__':
    sys.exit(main())
