"""The certificate of a Learning Citizen title as a PDF (Giấy chứng nhận), in Vietnamese: A4
landscape, the national heading, the issuing association and its place, the holder, the
year and the criteria version, the date, and a QR code that opens the public verification
page, with the verification code printed under it. A title no longer valid is marked so
across the page. Pure: data in, bytes out (ReportLab draws it, segno makes the QR code).

The text needs a TrueType font with Vietnamese: DejaVu (Debian's fonts-dejavu-core), looked
for in CERTIFICATE_FONT_DIR.
"""
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import segno
from reportlab.lib.colors import Color, HexColor
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

FONT_DIR = "/usr/share/fonts/truetype/dejavu"
FONTS = {"Cert": "DejaVuSerif.ttf", "Cert-Bold": "DejaVuSerif-Bold.ttf"}
RED, INK, GOLD = HexColor("#a50f15"), HexColor("#1a1a1a"), HexColor("#b8860b")
MARKS = {"revoked": "ĐÃ BỊ THU HỒI", "superseded": "ĐÃ ĐƯỢC THAY THẾ"}
"""What a certificate of a title no longer valid says across it."""


class FontMissing(RuntimeError):
    """The font directory lacks the DejaVu fonts the certificate is drawn with."""


@dataclass(frozen=True)
class CertificateData:
    holder_name: str
    year: int
    criteria_version: str
    issuer_name: str
    place: str            # the issuing association's unit ("Phường Long Xuyên")
    province: str         # its province ("Tỉnh An Giang")
    granted_on: date
    verify_url: str
    code: str
    status: str = "valid"


def filename(year):
    return f"chung-nhan-cong-dan-hoc-tap-{int(year)}.pdf"


def register_fonts(font_dir=FONT_DIR):
    """Load the fonts once per process; FontMissing naming the file and the package."""
    for name, file in FONTS.items():
        path = Path(font_dir) / file
        if not path.is_file():
            raise FontMissing(f"{path} not found: install fonts-dejavu-core or set "
                              f"CERTIFICATE_FONT_DIR to a directory holding {file}")
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(TTFont(name, str(path)))


def qr_png(url):
    """The QR code of ``url`` as PNG bytes (medium error correction, a quiet zone of 4)."""
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=8, border=4)
    return out.getvalue()


def _centred(canvas, x, y, text, size, font="Cert", color=INK):
    canvas.setFont(font, size)
    canvas.setFillColor(color)
    canvas.drawCentredString(x, y, text)


def _fit(text, font, size, width):
    """The largest size up to ``size`` at which ``text`` fits in ``width``."""
    while size > 8 and pdfmetrics.stringWidth(text, font, size) > width:
        size -= 1
    return size


def render(data, font_dir=FONT_DIR):
    """The certificate's PDF bytes."""
    register_fonts(font_dir)
    out = io.BytesIO()
    width, height = landscape(A4)
    canvas = Canvas(out, pagesize=(width, height), pageCompression=1)
    canvas.setTitle(f"Giấy chứng nhận Công dân học tập năm {data.year} - {data.holder_name}")
    canvas.setAuthor(data.issuer_name)
    canvas.setSubject("Giấy chứng nhận danh hiệu Công dân học tập")
    canvas.setCreator("CDHT")

    canvas.setStrokeColor(GOLD)
    canvas.setLineWidth(3)
    canvas.rect(22, 22, width - 44, height - 44)
    canvas.setLineWidth(1)
    canvas.rect(30, 30, width - 60, height - 60)

    left, middle, right = width * 0.27, width / 2, width * 0.70
    for x, lines in ((left, [("Cert-Bold", 12, data.issuer_name.upper()),
                             ("Cert", 11, f"{data.place}, {data.province}")]),
                     (right, [("Cert-Bold", 12, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"),
                              ("Cert-Bold", 12, "Độc lập - Tự do - Hạnh phúc")])):
        y = height - 70
        for font, size, text in lines:
            size = _fit(text, font, size, width * 0.42)
            canvas.setFont(font, size)
            canvas.setFillColor(INK)
            canvas.drawCentredString(x, y, text)
            y -= 17
        rule = pdfmetrics.stringWidth(lines[-1][2], lines[-1][0], lines[-1][1]) / 2
        canvas.line(x - rule, y + 12, x + rule, y + 12)

    _centred(canvas, middle, height - 170, "GIẤY CHỨNG NHẬN", 38, "Cert-Bold", RED)
    _centred(canvas, middle, height - 205, f"Danh hiệu Công dân học tập năm {data.year}", 20,
             "Cert-Bold", RED)
    granting = f"{data.issuer_name} chứng nhận Ông/Bà"
    _centred(canvas, middle, height - 245, granting, _fit(granting, "Cert", 14, width - 120))
    name_size = _fit(data.holder_name, "Cert-Bold", 30, width - 200)
    _centred(canvas, middle, height - 290, data.holder_name, name_size, "Cert-Bold")
    _centred(canvas, middle, height - 325,
             f"đã đạt danh hiệu “Công dân học tập” năm {data.year}", 14)
    _centred(canvas, middle, height - 347, f"theo bộ tiêu chí {data.criteria_version}", 14)

    day = data.granted_on
    canvas.setFont("Cert", 12)
    canvas.drawCentredString(right, 150, f"{data.place}, ngày {day.day:02d} tháng "
                                         f"{day.month:02d} năm {day.year}")
    canvas.setFont("Cert-Bold", 12)
    canvas.drawCentredString(right, 132, _fit_text(data.issuer_name.upper(), width * 0.42))

    size = 110
    canvas.drawImage(ImageReader(io.BytesIO(qr_png(data.verify_url))), 60, 62, size, size)
    canvas.setFont("Cert", 8)
    canvas.drawString(60, 52, "Quét mã để xác minh - Mã xác minh:")
    canvas.setFont("Cert-Bold", 9)
    canvas.drawString(60, 40, data.code)

    if data.status in MARKS:
        canvas.saveState()
        canvas.setFillColor(Color(0.65, 0.06, 0.08, alpha=0.35))
        canvas.setFont("Cert-Bold", 64)
        canvas.translate(width / 2, height / 2)
        canvas.rotate(20)
        canvas.drawCentredString(0, 0, MARKS[data.status])
        canvas.restoreState()
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def _fit_text(text, width, font="Cert-Bold", size=12):
    """``text`` cut with an ellipsis to fit ``width`` at ``size`` (a very long name)."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"
