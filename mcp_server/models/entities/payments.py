from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.entities.base import Base, UTCDateTime, utc_from_db
from mcp_server.models.payments import Payment


class PaymentEntity(Base):
    """The money ledger: payments received and refunds returned, in the order they happened."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunded_within_amount"),
        Index("ix_payments_order", "order_id", "sequence"),
        Index("ix_payments_created_at", "created_at"),
        Index("ix_payments_gateway_reference", "gateway_reference"),  # a gateway's event names its pi_/re_ id
        # Only the few rows waiting for the payment gateway (see migration 0005).
        Index(
            "ix_payments_pending",
            "created_at",
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
    )

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(10))
    order_id: Mapped[str] = mapped_column(String(40), ForeignKey("orders.id"))
    payment_id: Mapped[str | None] = mapped_column(String(40), ForeignKey("payments.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    restock: Mapped[bool] = mapped_column(Boolean)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    gateway_reference: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # One request's hold on a pending card row while it asks the gateway (migration 0006).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    # When the background settler may ask again about a row that stayed pending (migration 0007).
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @staticmethod
    def values_from_record(payment: Payment) -> dict[str, Any]:
        """Column values for an INSERT; the database assigns ``sequence``."""
        return {
            "id": payment.id,
            "kind": payment.kind,
            "order_id": payment.order_id,
            "payment_id": payment.payment_id,
            "amount_minor": payment.amount_minor,
            "currency": payment.currency,
            "method": payment.method,
            "status": payment.status,
            "reference": payment.reference,
            "reason": payment.reason,
            "restock": payment.restock,
            "refunded_minor": payment.refunded_minor,
            "gateway_reference": payment.gateway_reference,
            "created_at": payment.created_at,
            "lease_until": payment.lease_until,
            "claimed_by": payment.claimed_by,
            "attempts": payment.attempts,
            "next_attempt_at": payment.next_attempt_at,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> Payment:
        """A row selected with ``select(*PaymentEntity.__table__.c)``, in column order."""
        (
            sequence,
            id_,
            kind,
            order_id,
            payment_id,
            amount_minor,
            currency,
            method,
            status,
            reference,
            reason,
            restock,
            refunded_minor,
            gateway_reference,
            created_at,
            lease_until,
            claimed_by,
            attempts,
            next_attempt_at,
        ) = row
        return Payment(
            id=id_,
            kind=kind,
            order_id=order_id,
            amount_minor=int(amount_minor),
            currency=currency,
            method=method,
            status=status,
            created_at=utc_from_db(created_at),
            payment_id=payment_id,
            reference=reference,
            reason=reason,
            restock=bool(restock),
            refunded_minor=int(refunded_minor),
            gateway_reference=gateway_reference,
            sequence=int(sequence),
            lease_until=utc_from_db(lease_until) if lease_until is not None else None,
            claimed_by=claimed_by,
            attempts=int(attempts),
            next_attempt_at=utc_from_db(next_attempt_at) if next_attempt_at is not None else None,
        )
