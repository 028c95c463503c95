"""Drug supply: members' stock, days of supply, shortage warnings, replenishment of village clinics, deliveries
and 集采 use (the central pharmacy's stock page, /pharmacy/stock)."""
