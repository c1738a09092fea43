"""Builders shared by the test suites (plans, events, ticks; the shipment flows), imported as tests.support.*."""
