"""Seed the procedure catalogue: a sample of the national catalogue and Hanoi's agencies.

Codes follow the National Public Service Portal's catalogue (dichvucong.gov.vn); names are the
procedures' short titles. Admins move procedures between agencies with POST /v1/agencies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

AGENCIES = [
    ("UBND-P-HOANKIEM", "Ủy ban nhân dân phường Hoàn Kiếm"),
    ("STP-HN", "Sở Tư pháp thành phố Hà Nội"),
    ("CA-HN", "Công an thành phố Hà Nội"),
    ("SXD-HN", "Sở Xây dựng thành phố Hà Nội"),
    ("SNNMT-HN", "Sở Nông nghiệp và Môi trường thành phố Hà Nội"),
    ("STC-HN", "Sở Tài chính thành phố Hà Nội"),
    ("SYT-HN", "Sở Y tế thành phố Hà Nội"),
    ("BHXH-HN", "Bảo hiểm xã hội thành phố Hà Nội"),
]

PROCEDURES = [
    ("1.001193", "Đăng ký khai sinh", "UBND-P-HOANKIEM"),
    ("1.000894", "Đăng ký kết hôn", "UBND-P-HOANKIEM"),
    ("1.000656", "Đăng ký khai tử", "UBND-P-HOANKIEM"),
    ("2.000635", "Cấp bản sao Trích lục hộ tịch", "UBND-P-HOANKIEM"),
    ("1.004227.000.00.00.H26", "Cấp Giấy xác nhận tình trạng hôn nhân", "UBND-P-HOANKIEM"),
    ("2.000815", "Chứng thực bản sao từ bản chính giấy tờ, văn bản", "UBND-P-HOANKIEM"),
    ("1.001612", "Cấp Phiếu lý lịch tư pháp cho công dân Việt Nam", "STP-HN"),
    ("2.001008", "Đăng ký thay đổi, cải chính, bổ sung hộ tịch có yếu tố nước ngoài", "STP-HN"),
    ("1.001255", "Đăng ký thường trú", "CA-HN"),
    ("1.001999", "Cấp đổi thẻ Căn cước", "CA-HN"),
    ("1.002804", "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "CA-HN"),
    ("1.009994", "Cấp giấy phép xây dựng mới đối với nhà ở riêng lẻ", "SXD-HN"),
    ("1.003003", "Đăng ký đất đai, cấp Giấy chứng nhận quyền sử dụng đất lần đầu", "SNNMT-HN"),
    (
        "1.004240",
        "Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất",
        "SNNMT-HN",
    ),
    ("2.001610", "Đăng ký thành lập doanh nghiệp tư nhân", "STC-HN"),
    ("2.000720", "Đăng ký thành lập hộ kinh doanh", "STC-HN"),
    ("1.000045", "Cấp Chứng chỉ hành nghề dược", "SYT-HN"),
    ("1.004964", "Cấp lại, đổi, điều chỉnh thông tin trên sổ BHXH, thẻ BHYT", "BHXH-HN"),
    ("1.000083", "Đăng ký đóng BHYT hộ gia đình", "BHXH-HN"),
]


def upgrade() -> None:
    from core.db import UTCDateTime

    now = datetime.now(UTC)
    agencies = sa.table(
        "agencies", sa.column("code"), sa.column("name"), sa.column("created_at", UTCDateTime())
    )
    procedures = sa.table(
        "procedures", sa.column("code"), sa.column("name"), sa.column("agency_code")
    )
    op.bulk_insert(agencies, [{"code": c, "name": n, "created_at": now} for c, n in AGENCIES])
    op.bulk_insert(procedures, [{"code": c, "name": n, "agency_code": a} for c, n, a in PROCEDURES])


def downgrade() -> None:
    op.execute("DELETE FROM procedures")
    op.execute("DELETE FROM agencies")
