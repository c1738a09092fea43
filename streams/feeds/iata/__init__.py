"""The IATA air cargo adapters and what they share.

- rules: the status codes and the milestone each gives (one table for FSU, XFSU and ONE Record);
- refs: air waybill numbers and their check digit, flights, the pieces of a part shipment;
- places: airports and UN/LOCODEs with their time zones, local and ISO times to UTC;
- events: drafts -> TrackingEvents (and the flight's own events), the guarded entry point;
- cargo_imp: what FSU and FFM share as Cargo-IMP text (Type B framing, dates without a year, the adapters' base);
- fsu, ffm, xfsu, one_record: the adapters (Cargo-IMP FSU/FSA, Cargo-IMP FFM, Cargo-XML XFSU, ONE Record).
"""
