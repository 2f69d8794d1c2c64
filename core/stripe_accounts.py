"""What a Stripe connected account's id looks like (`acct_` and letters and digits), checked
where an operator names one and where localstripe takes one in a `Stripe-Account` header."""

import re

ACCOUNT_ID = re.compile(r"acct_[A-Za-z0-9]{1,64}")
