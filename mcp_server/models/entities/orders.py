from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from mcp_server.models.entities.base import Base, UTCDateTime, utc_from_db
from mcp_server.models.orders import Address, Order, OrderLine, OrderStatus


class OrderEntity(Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("paid_minor >= 0 AND paid_minor <= total_minor", name="paid_within_total"),
        CheckConstraint("refunded_minor >= 0 AND refunded_minor <= paid_minor", name="refunded_within_paid"),
        Index("ix_orders_status", "status", "id"),
        Index("ix_orders_customer", "customer_id", "id"),
        Index("ix_orders_placed_at", "placed_at"),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(40), ForeignKey("customers.id"))
    status: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    paid_minor: Mapped[int] = mapped_column(BigInteger)
    refunded_minor: Mapped[int] = mapped_column(BigInteger)
    line_count: Mapped[int] = mapped_column(Integer)
    units: Mapped[int] = mapped_column(Integer)
    ship_name: Mapped[str | None] = mapped_column(String(200))
    ship_line1: Mapped[str | None] = mapped_column(String(200))
    ship_line2: Mapped[str | None] = mapped_column(String(200))
    ship_postal_code: Mapped[str | None] = mapped_column(String(20))
    ship_city: Mapped[str | None] = mapped_column(String(100))
    ship_country: Mapped[str | None] = mapped_column(String(2))
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @staticmethod
    def values_from_record(order: Order) -> dict[str, Any]:
        address = order.shipping_address
        return {
            "id": order.id,
            "customer_id": order.customer_id,
            "status": order.status,
            "currency": order.currency,
            "total_minor": order.total_minor,
            "paid_minor": order.paid_minor,
            "refunded_minor": order.refunded_minor,
            "line_count": len(order.lines),
            "units": order.units,
            "ship_name": address.name if address else None,
            "ship_line1": address.line1 if address else None,
            "ship_line2": address.line2 if address else None,
            "ship_postal_code": address.postal_code if address else None,
            "ship_city": address.city if address else None,
            "ship_country": address.country if address else None,
            "carrier": order.carrier,
            "tracking_number": order.tracking_number,
            "placed_at": order.placed_at,
            "updated_at": order.updated_at,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any], lines: tuple[OrderLine, ...] = ()) -> Order:
        """A row selected with ``select(*OrderEntity.__table__.c)``, in column order."""
        (
            id_,
            customer_id,
            status,
            currency,
            total_minor,
            paid_minor,
            refunded_minor,
            line_count,
            units,
            ship_name,
            ship_line1,
            ship_line2,
            ship_postal_code,
            ship_city,
            ship_country,
            carrier,
            tracking_number,
            placed_at,
            updated_at,
        ) = row[:19]
        address = (
            Address(ship_name, ship_line1, ship_line2, ship_postal_code, ship_city, ship_country)
            if ship_name is not None
            else None
        )
        state: OrderStatus = status
        return Order(
            id=id_,
            customer_id=customer_id,
            status=state,
            currency=currency,
            total_minor=int(total_minor),
            paid_minor=int(paid_minor),
            refunded_minor=int(refunded_minor),
            units=int(units),
            lines=lines,
            shipping_address=address,
            carrier=carrier,
            tracking_number=tracking_number,
            placed_at=utc_from_db(placed_at),
            updated_at=utc_from_db(updated_at),
            line_count=int(line_count),
        )


ORDER_COLUMNS = 19


class OrderLineEntity(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("restocked >= 0 AND restocked <= quantity", name="restocked_within_quantity"),
        Index("ix_order_lines_product", "product_id"),
    )

    order_id: Mapped[str] = mapped_column(String(40), ForeignKey("orders.id"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(40), ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price_minor: Mapped[int] = mapped_column(BigInteger)
    line_total_minor: Mapped[int] = mapped_column(BigInteger)
    restocked: Mapped[int] = mapped_column(Integer)

    @staticmethod
    def values_from_record(order_id: str, line: OrderLine) -> dict[str, Any]:
        return {
            "order_id": order_id,
            "line_no": line.line_no,
            "product_id": line.product_id,
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price_minor": line.unit_price_minor,
            "line_total_minor": line.total_minor,
            "restocked": line.restocked,
        }

    @staticmethod
    def record_from_row(row: Sequence[Any]) -> OrderLine:
        """Columns line_no, product_id, sku, name, quantity, unit_price_minor, restocked."""
        line_no, product_id, sku, name, quantity, unit_price_minor, restocked = row
        return OrderLine(
            line_no=int(line_no),
            product_id=product_id,
            sku=sku,
            name=name,
            quantity=int(quantity),
            unit_price_minor=int(unit_price_minor),
            restocked=int(restocked),
        )
