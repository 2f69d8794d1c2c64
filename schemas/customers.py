"""A customer's personal data: what to erase, and what the erasure did."""

from pydantic import BaseModel, EmailStr


class CustomerIn(BaseModel):
    email: EmailStr


class ErasureOut(BaseModel):
    erased: list[str]  # booking ids whose personal data was erased
    still_open: list[str]  # bookings still being served: not erased
    settling: list[str]  # closed moments ago, last email or webhooks on their way: ask again
    retained: str  # what is kept, and why
