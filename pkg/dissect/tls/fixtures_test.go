package tls

// Byte fixtures: IPv4 packets of testdata/tls.pcapng (recorded by testdata/gen.sh),
// extracted with `editcap -r tls.pcapng frame.pcapng N` and printed with `tcpdump -nn
// -X -r frame.pcapng`: each constant is that text (a backquote of the ASCII column is
// spliced in as "`"). Tests turn the hex columns into bytes (dissecttest.FromTcpdumpX)
// and feed the TCP payloads to the parser.

// fixtureTLS13ClientHello is frame 53, the ClientHello of stream 3 (openssl s_client -servername alpn.shark.test
// -alpn foo,bar -ciphersuites TLS_CHACHA20_POLY1305_SHA256): TLS 1.3 offered, SNI,
// ALPN foo,bar, 29 cipher suites.
const fixtureTLS13ClientHello = `
16:38:50.496925 IP 198.19.43.2.33546 > 198.19.43.1.8443: Flags [P.], seq 3924267859:3924268190, ack 225233436, win 63, options [nop,nop,TS val 2580272189 ecr 1333586342], length 331
	0x0000:  4500 017f e768 4000 4006 6fe6 c613 2b02  E....h@.@.o...+.
	0x0010:  c613 2b01 830a 20fb e9e7 9353 0d6c ca1c  ..+........S.l..
	0x0020:  8018 003f e39b 0000 0101 080a 99cb d43d  ...?...........=
	0x0030:  4f7c e9a6 1603 0101 4601 0001 4203 037a  O|......F...B..z
	0x0040:  3fe0 214b bfb0 b0e1 581e 7cfc 7457 da87  ?.!K....X.|.tW..
	0x0050:  8b57 ca32 a6b8 e150 d461 e278 79c4 6f20  .W.2...P.a.xy.o.
	0x0060:  fd38 4c23 b24a ac43 d18a 64ec bd88 76e1  .8L#.J.C..d...v.
	0x0070:  686e 1e99 84b4 abe7 4b54 fbd6 8b23 13e0  hn......KT...#..
	0x0080:  003a 1303 c02c c030 009f cca9 cca8 ccaa  .:...,.0........
	0x0090:  c02b c02f 009e c024 c028 006b c023 c027  .+./...$.(.k.#.'
	0x00a0:  0067 c00a c014 0039 c009 c013 0033 009d  .g.....9.....3..
	0x00b0:  009c 003d 003c 0035 002f 00ff 0100 00bf  ...=.<.5./......
	0x00c0:  0000 0014 0012 0000 0f61 6c70 6e2e 7368  .........alpn.sh
	0x00d0:  6172 6b2e 7465 7374 000b 0004 0300 0102  ark.test........
	0x00e0:  000a 0016 0014 001d 0017 001e 0019 0018  ................
	0x00f0:  0100 0101 0102 0103 0104 0023 0000 0010  ...........#....
	0x0100:  000a 0008 0366 6f6f 0362 6172 0016 0000  .....foo.bar....
	0x0110:  0017 0000 000d 002a 0028 0403 0503 0603  .......*.(......
	0x0120:  0807 0808 0809 080a 080b 0804 0805 0806  ................
	0x0130:  0401 0501 0601 0303 0301 0302 0402 0502  ................
	0x0140:  0602 002b 0009 0803 0403 0303 0203 0100  ...+............
	0x0150:  2d00 0201 0100 3300 2600 2400 1d00 2061  -.....3.&.$....a
	0x0160:  605c f62b 1252 3676 851a ff2f 1dcb 7ea3  ` + "`" + `\.+.R6v.../..~.
	0x0170:  47a1 633e 60a3 202d 2504 0081 80cc 1c    G.c>` + "`" + `..-%......
`

// fixtureTLS13ServerHello is frame 55, the server's first flight: the ServerHello (TLS 1.3 in supported_versions,
// TLS_CHACHA20_POLY1305_SHA256), a ChangeCipherSpec and encrypted records.
const fixtureTLS13ServerHello = `
16:38:50.498036 IP 198.19.43.1.8443 > 198.19.43.2.33546: Flags [P.], seq 225233436:225234225, ack 3924268190, win 64, options [nop,nop,TS val 1333586344 ecr 2580272189], length 789
	0x0000:  4500 0349 8d08 4000 4006 c87c c613 2b01  E..I..@.@..|..+.
	0x0010:  c613 2b02 20fb 830a 0d6c ca1c e9e7 949e  ..+......l......
	0x0020:  8018 0040 e565 0000 0101 080a 4f7c e9a8  ...@.e......O|..
	0x0030:  99cb d43d 1603 0300 7a02 0000 7603 031f  ...=....z...v...
	0x0040:  3557 41c4 9a57 dad6 2a09 23a4 db52 2d1b  5WA..W..*.#..R-.
	0x0050:  d4c8 7956 34b9 dd5a 3062 4553 9535 e120  ..yV4..Z0bES.5..
	0x0060:  fd38 4c23 b24a ac43 d18a 64ec bd88 76e1  .8L#.J.C..d...v.
	0x0070:  686e 1e99 84b4 abe7 4b54 fbd6 8b23 13e0  hn......KT...#..
	0x0080:  1303 0000 2e00 2b00 0203 0400 3300 2400  ......+.....3.$.
	0x0090:  1d00 20f6 1ab7 00f6 a2d8 c099 9e33 3cb3  .............3<.
	0x00a0:  5f13 ad43 61f3 a817 93ae 2ff5 3a18 ee10  _..Ca...../.:...
	0x00b0:  5b4b 0614 0303 0001 0117 0303 0021 ab58  [K...........!.X
	0x00c0:  5b13 8a73 c4a9 40ad 77d5 307f c8bc aec2  [..s..@.w.0.....
	0x00d0:  493a bdc9 b50a fd7f ee10 755b d419 cf17  I:........u[....
	0x00e0:  0303 01c6 4b9f 789c 40a5 8bcf 18c7 1b2c  ....K.x.@......,
	0x00f0:  281d cd74 5eb6 65a0 c483 d8d7 11f8 d669  (..t^.e........i
	0x0100:  a07e 7db8 1eab 96aa 41a4 6648 c3ed 3335  .~}.....A.fH..35
	0x0110:  ce32 e61a 7ed6 33ef 1e98 b9aa 8ec4 2cc1  .2..~.3.......,.
	0x0120:  9f6a 6b3a bc37 680e 96c7 e86b 9a6e 1189  .jk:.7h....k.n..
	0x0130:  805c c0b5 9993 01d1 2685 6f9f 1103 a314  .\......&.o.....
	0x0140:  416f b703 2249 d21e c0d4 b2ee aace 68d5  Ao.."I........h.
	0x0150:  c962 f32d 4b19 15c4 ae73 d5df de38 4bb4  .b.-K....s...8K.
	0x0160:  5a1f c880 e94c b37f 7a63 8469 4c62 e592  Z....L..zc.iLb..
	0x0170:  c042 adbd 4ec5 4184 76c9 336f b07d e818  .B..N.A.v.3o.}..
	0x0180:  97c0 311e 4f0d 9773 8c33 364e 3426 fd05  ..1.O..s.36N4&..
	0x0190:  78b0 18bb 916a f789 1832 f9d2 efd8 ad2b  x....j...2.....+
	0x01a0:  f8f8 b01d 5e5d ceb7 85ea bbc3 37ac 7ce2  ....^]......7.|.
	0x01b0:  b28a d023 fdd8 171f e569 c886 03ef e902  ...#.....i......
	0x01c0:  0f46 3038 61f0 00cd a54f c9b3 2681 b451  .F08a....O..&..Q
	0x01d0:  15c6 33a7 d63d 2569 cbbd 82c0 a59e 0ada  ..3..=%i........
	0x01e0:  4347 8613 42b7 b0ee fc45 2da2 6fc2 e540  CG..B....E-.o..@
	0x01f0:  b875 684d ac16 e90f 78cc cc7b 278f d81c  .uhM....x..{'...
	0x0200:  7dd6 1aef 1942 09c5 7c5c 7da9 7783 ebe0  }....B..|\}.w...
	0x0210:  9c2a c170 b978 69f0 b953 5e0c 97a8 b9c1  .*.p.xi..S^.....
	0x0220:  dbd5 8af2 6707 d5a9 c5f4 a4b0 3a53 9ebb  ....g.......:S..
	0x0230:  0cd9 35da 4704 43b2 e2fa f6dc a54c 90fa  ..5.G.C......L..
	0x0240:  459f cd28 c020 b3e9 76f2 b9d2 17dd f715  E..(....v.......
	0x0250:  8e30 835e 1056 3172 72b8 42d5 c529 bb6c  .0.^.V1rr.B..).l
	0x0260:  58bc e57f c557 50d6 c483 2e1c 301f aee8  X....WP.....0...
	0x0270:  11e7 a372 9cbf 143f e85a 128d f2e7 cfbb  ...r...?.Z......
	0x0280:  8380 f03a f7a5 56b1 f391 6185 124e 83ce  ...:..V...a..N..
	0x0290:  c3bb a4fb 8c9d 845a 8bcf fbc4 1911 18ec  .......Z........
	0x02a0:  9b1f 75b4 0860 e492 413f 1703 0300 6042  ..u..` + "`" + `..A?....` + "`" + `B
	0x02b0:  a125 c52e 6b64 2b10 0cf4 2b2c ede9 63c6  .%..kd+...+,..c.
	0x02c0:  cdb3 b57f 0fd2 deef dfa7 8600 8cae cc33  ...............3
	0x02d0:  c755 4050 e875 0a20 2ae8 16f7 4c95 16bd  .U@P.u..*...L...
	0x02e0:  2739 ac47 ba21 1400 5998 b2e2 44e2 341e  '9.G.!..Y...D.4.
	0x02f0:  8654 523a c9e8 f3e4 3114 77d7 3d85 c315  .TR:....1.w.=...
	0x0300:  8ff9 a7ef 9dc9 ef71 e98d a028 2b1a 0c17  .......q...(+...
	0x0310:  0303 0035 e04a aef2 b9a7 765b bf5c 1c80  ...5.J....v[.\..
	0x0320:  0f50 15ad d392 9a10 8b54 5803 59a4 95c2  .P.......TX.Y...
	0x0330:  cdf9 03e4 4ae8 bac6 ed71 c4c1 9c4d 2cc6  ....J....q...M,.
	0x0340:  34b2 cdde 8e68 4d24 ed                   4....hM$.
`

// fixtureTLS12ClientHello is frame 68, the ClientHello of stream 4 (openssl s_client -servername alpn12.shark.test
// -alpn foo,bar -tls1_2): no supported_versions, 28 cipher suites.
const fixtureTLS12ClientHello = `
16:38:50.549404 IP 198.19.43.2.33552 > 198.19.43.1.8443: Flags [P.], seq 1921377364:1921377592, ack 3061963797, win 63, options [nop,nop,TS val 1857385086 ecr 3728437846], length 228
	0x0000:  4500 0118 6d86 4000 4006 ea2f c613 2b02  E...m.@.@../..+.
	0x0010:  c613 2b01 8310 20fb 7285 e454 b681 dc15  ..+.....r..T....
	0x0020:  8018 003f e334 0000 0101 080a 6eb5 727e  ...?.4......n.r~
	0x0030:  de3b 7256 1603 0100 df01 0000 db03 03c2  .;rV............
	0x0040:  64e4 23ca b4ed 4cda 35dd e68b 1061 48d8  d.#...L.5....aH.
	0x0050:  fb1a 2625 da38 da18 41cf 39a7 cdf8 d800  ..&%.8..A.9.....
	0x0060:  0038 c02c c030 009f cca9 cca8 ccaa c02b  .8.,.0.........+
	0x0070:  c02f 009e c024 c028 006b c023 c027 0067  ./...$.(.k.#.'.g
	0x0080:  c00a c014 0039 c009 c013 0033 009d 009c  .....9.....3....
	0x0090:  003d 003c 0035 002f 00ff 0100 007a 0000  .=.<.5./.....z..
	0x00a0:  0016 0014 0000 1161 6c70 6e31 322e 7368  .......alpn12.sh
	0x00b0:  6172 6b2e 7465 7374 000b 0004 0300 0102  ark.test........
	0x00c0:  000a 000c 000a 001d 0017 001e 0019 0018  ................
	0x00d0:  0023 0000 0010 000a 0008 0366 6f6f 0362  .#.........foo.b
	0x00e0:  6172 0016 0000 0017 0000 000d 002a 0028  ar...........*.(
	0x00f0:  0403 0503 0603 0807 0808 0809 080a 080b  ................
	0x0100:  0804 0805 0806 0401 0501 0601 0303 0301  ................
	0x0110:  0302 0402 0502 0602                      ........
`

// fixtureTLS12ServerHello is frame 70, the server's flight in four records: ServerHello
// (TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, ALPN bar), Certificate, ServerKeyExchange,
// ServerHelloDone.
const fixtureTLS12ServerHello = `
16:38:50.550118 IP 198.19.43.1.8443 > 198.19.43.2.33552: Flags [P.], seq 3061963797:3061964445, ack 1921377592, win 64, options [nop,nop,TS val 3728437847 ecr 1857385086], length 648
	0x0000:  4500 02bc 1f97 4000 4006 367b c613 2b01  E.....@.@.6{..+.
	0x0010:  c613 2b02 20fb 8310 b681 dc15 7285 e538  ..+.........r..8
	0x0020:  8018 0040 e4d8 0000 0101 080a de3b 7257  ...@.........;rW
	0x0030:  6eb5 727e 1603 0300 4b02 0000 4703 03cf  n.r~....K...G...
	0x0040:  012a 124d 8bf6 dc23 84e7 320d 7529 968c  .*.M...#..2.u)..
	0x0050:  47f7 447c 28da 6244 4f57 4e47 5244 0100  G.D|(.bDOWNGRD..
	0x0060:  c02c 0000 1fff 0100 0100 000b 0004 0300  .,..............
	0x0070:  0102 0023 0000 0010 0006 0004 0362 6172  ...#.........bar
	0x0080:  0017 0000 1603 0301 b20b 0001 ae00 01ab  ................
	0x0090:  0001 a830 8201 a430 8201 4aa0 0302 0102  ...0...0..J.....
	0x00a0:  0214 53ba 05d8 d61f c34f 68fe 32de 96b0  ..S......Oh.2...
	0x00b0:  a6d6 b26e 0cf5 300a 0608 2a86 48ce 3d04  ...n..0...*.H.=.
	0x00c0:  0302 3015 3113 3011 0603 5504 030c 0a73  ..0.1.0...U....s
	0x00d0:  6861 726b 2e74 6573 7430 1e17 0d32 3631  hark.test0...261
	0x00e0:  3132 3331 3633 3834 395a 170d 3336 3131  123163849Z..3611
	0x00f0:  3230 3136 3338 3439 5a30 1531 1330 1106  20163849Z0.1.0..
	0x0100:  0355 0403 0c0a 7368 6172 6b2e 7465 7374  .U....shark.test
	0x0110:  3059 3013 0607 2a86 48ce 3d02 0106 082a  0Y0...*.H.=....*
	0x0120:  8648 ce3d 0301 0703 4200 047b 4ffe 73d9  .H.=....B..{O.s.
	0x0130:  fdf9 999e a8a1 b621 51a6 116b cd9f a18a  .......!Q..k....
	0x0140:  cd23 8f48 1e54 8b4c 6804 2f57 c5dc bdd3  .#.H.T.Lh./W....
	0x0150:  e13d ceb5 119e d88c 8ee2 9819 d3ba 11a6  .=..............
	0x0160:  62b9 9500 9be2 02f1 100b fea3 7830 7630  b...........x0v0
	0x0170:  1d06 0355 1d0e 0416 0414 82bf d2b0 1efc  ...U............
	0x0180:  782b 14e8 b29c 02ef f44e 6a4d 95df 301f  x+.......NjM..0.
	0x0190:  0603 551d 2304 1830 1680 1482 bfd2 b01e  ..U.#..0........
	0x01a0:  fc78 2b14 e8b2 9c02 eff4 4e6a 4d95 df30  .x+.......NjM..0
	0x01b0:  0f06 0355 1d13 0101 ff04 0530 0301 01ff  ...U.......0....
	0x01c0:  3023 0603 551d 1104 1c30 1a82 0a73 6861  0#..U....0...sha
	0x01d0:  726b 2e74 6573 7482 0c2a 2e73 6861 726b  rk.test..*.shark
	0x01e0:  2e74 6573 7430 0a06 082a 8648 ce3d 0403  .test0...*.H.=..
	0x01f0:  0203 4800 3045 0221 00cb 9074 b32a ffc9  ..H.0E.!...t.*..
	0x0200:  d306 7998 07f7 bc88 85e0 fa10 f220 9257  ..y............W
	0x0210:  3cb8 5b97 89ea 889e a502 204a 796a 5125  <.[........JyjQ%
	0x0220:  c2a5 f4be e7ee 5859 fb67 ff9d e09f 3d27  ......XY.g....='
	0x0230:  e6af fbfe 2348 cb58 5e89 2a16 0303 0073  ....#H.X^.*....s
	0x0240:  0c00 006f 0300 1d20 f2a1 ed20 5da9 172a  ...o........]..*
	0x0250:  8a1d 8687 ab16 b899 f98c d21a c46c 858c  .............l..
	0x0260:  5cb4 ab5b 5d35 601a 0403 0047 3045 0220  \..[]5` + "`" + `....G0E..
	0x0270:  3314 4df8 5bdf 789b d8f9 2aef a75d b7b0  3.M.[.x...*..]..
	0x0280:  0b9e 39d9 6401 4ed6 ae25 2238 8179 99d9  ..9.d.N..%"8.y..
	0x0290:  0221 00ba 3bf8 83cf 676c a0e5 15d3 61c3  .!..;...gl....a.
	0x02a0:  ae5b e97c 99e0 1e0b 340c f207 94f4 b461  .[.|....4......a
	0x02b0:  9f4f 1416 0303 0004 0e00 0000            .O..........
`

// fixtureRefusedClientHello is frame 113, the ClientHello of stream 7 (openssl s_client -servername
// refused.shark.test -tls1_3) to a TLS 1.2-only server.
const fixtureRefusedClientHello = `
16:38:50.709293 IP 198.19.43.2.46508 > 198.19.43.1.8446: Flags [P.], seq 118575907:118576159, ack 525733095, win 63, options [nop,nop,TS val 1924853886 ecr 3072889081], length 252
	0x0000:  4500 0130 a31b 4000 4006 b482 c613 2b02  E..0..@.@.....+.
	0x0010:  c613 2b01 b5ac 20fe 0711 5323 1f56 0ce7  ..+.......S#.V..
	0x0020:  8018 003f e34c 0000 0101 080a 72ba f07e  ...?.L......r..~
	0x0030:  b728 90f9 1603 0100 f701 0000 f303 03f5  .(..............
	0x0040:  0101 b7f8 b152 319d db29 2038 7563 b093  .....R1..).8uc..
	0x0050:  ca81 5ee7 7596 075d 1f4e 4976 e729 6420  ..^.u..].NIv.)d.
	0x0060:  0b05 6ddf 0e5b a445 0db5 890f 3c78 74db  ..m..[.E....<xt.
	0x0070:  35b7 621a 6e5f a41e bcba 7aa8 2d20 28f5  5.b.n_....z.-.(.
	0x0080:  0008 1302 1303 1301 00ff 0100 00a2 0000  ................
	0x0090:  0017 0015 0000 1272 6566 7573 6564 2e73  .......refused.s
	0x00a0:  6861 726b 2e74 6573 7400 0b00 0403 0001  hark.test.......
	0x00b0:  0200 0a00 1600 1400 1d00 1700 1e00 1900  ................
	0x00c0:  1801 0001 0101 0201 0301 0400 2300 0000  ............#...
	0x00d0:  1600 0000 1700 0000 0d00 1e00 1c04 0305  ................
	0x00e0:  0306 0308 0708 0808 0908 0a08 0b08 0408  ................
	0x00f0:  0508 0604 0105 0106 0100 2b00 0302 0304  ..........+.....
	0x0100:  002d 0002 0101 0033 0026 0024 001d 0020  .-.....3.&.$....
	0x0110:  b7ea 6cc7 d925 17ea 739f c1b0 d09b 7518  ..l..%..s.....u.
	0x0120:  0b95 65b7 b461 8960 29e5 13ad 5041 276b  ..e..a.` + "`" + `)...PA'k
`

// fixtureRefusedAlert is frame 115, the server's answer: a fatal protocol_version alert (70).
const fixtureRefusedAlert = `
16:38:50.709379 IP 198.19.43.1.8446 > 198.19.43.2.46508: Flags [P.], seq 525733095:525733102, ack 118576159, win 64, options [nop,nop,TS val 3072889081 ecr 1924853886], length 7
	0x0000:  4500 003b 8aab 4000 4006 cde7 c613 2b01  E..;..@.@.....+.
	0x0010:  c613 2b02 20fe b5ac 1f56 0ce7 0711 541f  ..+......V....T.
	0x0020:  8018 0040 e257 0000 0101 080a b728 90f9  ...@.W.......(..
	0x0030:  72ba f07e 1503 0300 0202 46              r..~......F
`
