"""Half-open connections to a port are counted from the kernel's TCP table."""

from __future__ import annotations

from lambda_sandbox.listener_stop import handshakes_in_flight

TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
   1: 0100007F:1F90 0100007F:D431 03 00000000:00000000 02:00000064 00000000     0        0 0 0
   2: 0100007F:1F90 0100007F:D432 03 00000000:00000000 02:00000064 00000000     0        0 0 0
   3: 0100007F:1F90 0100007F:D433 01 00000000:00000000 00:00000000 00000000     0        0 2 1
   4: 0100007F:1F91 0100007F:D434 03 00000000:00000000 02:00000064 00000000     0        0 0 0
   5: 0100007F:D435 0100007F:1F90 03 00000000:00000000 02:00000064 00000000     0        0 0 0
"""

TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:D431 03 00000000
"""


def test_only_half_open_connections_to_the_port_count() -> None:
    # Listening (0A), established (01), another local port, or the port as the remote end: no.
    assert handshakes_in_flight(TCP.splitlines(), 0x1F90) == 2
    assert handshakes_in_flight(TCP.splitlines(), 0x1F91) == 1
    assert handshakes_in_flight(TCP.splitlines(), 0x1234) == 0


def test_the_ipv6_table_reads_the_same() -> None:
    assert handshakes_in_flight(TCP6.splitlines(), 8080) == 1


def test_a_table_of_no_sockets_counts_none() -> None:
    assert handshakes_in_flight(["", "  sl  local_address rem_address   st"], 8080) == 0
