"""UN/EDIFACT container messages -> canonical TrackingEvents: IFTSTA (status), CODECO (gate in/out), COARRI
(discharge/load); and BAPLIE bay plans -> who is aboard a vessel voyage (listings, see baplie.py). Segments are
read with pydifact; the message type comes from each UNH, so one format ("edifact") takes whole interchanges, even
ones mixing message types. `source` defaults to "edifact-<type>" per message.

What is read (and why):
- IFTSTA: each STS starts a status; its container is the EQD+CN / RFF+EQ of that status (else of the message
  header), its time DTM+334, its place LOC+175 (else the first LOC before the status's TDT), its mode and means of
  transport the status's TDT. STS codes: the X12-315 style codes carriers use in IFTSTA (I, OA, AE, UV, VD, VA, AL,
  UR, RL, AR, P, D, CT...) and the DCSA four-letter codes; see STATUS_CODES.
- CODECO: BGM 34 gate-in report -> GATE_IN, 36 gate-out report -> GATE_OUT; per EQD group: DTM+7 (or 203),
  LOC+165 (else 9, 11), mode from the group's inland TDT (default road).
- COARRI: BGM 44 discharge report -> DISCHARGED, 46 loading report -> LOADED; DTM+203 (or 7), LOC+165, then the port
  where the move happened: the port of discharge (LOC+11) of a discharge report, the port of loading (LOC+9) of a
  loading report, each looked for in the container's group and then in the vessel's (header) group. A discharge is
  never placed at LOC+9 (that is where the container was loaded, an earlier port), nor a load at LOC+11. Mode SEA.
- Conveyance events (vessel, train): a TDT group's LOC/DTM pairs, DTM+132 (arrival, estimated), 133 (departure,
  estimated), 178 (arrival, actual), 186 (departure, actual), each at the LOC before it, or, in the COARRI/CODECO
  vessel group, at the port of the report when no LOC precedes it; and IFTSTA VA/VD statuses (vessel arrival or
  departure, at LOC+175). The vessel is the TDT's conveyance reference (voyage) and C222 id (code list 146/11: IMO
  number, 103: call sign) or name; a train is the TDT's reference and carrier with the date of its first departure
  in the group. A TDT that cannot name its conveyance keeps its unit events; its call times are dropped with a
  warning. docs/feeds/edifact-locations.md says what each qualifier is taken to mean.
- EDIFACT times have no zone (formats 102/203/204): they are local at the event's place and converted with its IANA
  zone; a place without a known zone is rejected, never read as UTC. Formats 205/303/304 carry their own zone.
- Oddities tolerated: CRLF/LF/no line breaks, wrapped lines, UNA or not, a LOC value with a terminal suffix whose
  first five characters are a UN/LOCODE in our table (IDJKT45 -> IDJKT), Latin-1 bytes.
- Ids: no EDIFACT element identifies an event, so the id hashes unit, milestone, place and time: the same move
  reported twice (a resent message) gets the same id.

Modules: segments (UNA, UNH..UNT messages, segment groups), reading (places, times, containers, transport and
references read from segments), conveyances (the vessel and train calls of a TDT group), iftsta, container_reports
(CODECO and COARRI), baplie (bay plans), interchange (the `Edifact` format the registry holds).
"""
