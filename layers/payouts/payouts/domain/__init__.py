"""Pure domain: money, the payout request, orders and their status machine. No I/O, no AWS."""
