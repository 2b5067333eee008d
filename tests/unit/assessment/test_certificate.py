"""The certificate PDF, read back as a reader would: its text (pypdf) holds the holder, the
year, the association and the code; the embedded QR code (decoded with zxing-cpp) opens the
verification page."""
import dataclasses
import io
from datetime import date

import pytest
import zxingcpp
from pypdf import PdfReader

from services.assessment import certificate

DATA = certificate.CertificateData(
    holder_name="Nguyễn Thị Ánh Tuyết", year=2025, criteria_version="324/QĐ-KHVN",
    issuer_name="Hội Khuyến học phường Long Xuyên", place="Phường Long Xuyên",
    province="Tỉnh An Giang", granted_on=date(2025, 12, 5),
    verify_url="https://cdht.example.vn/xac-minh/q8Wm3x_Zt0aK-2bYc9LrVu1e",
    code="q8Wm3x_Zt0aK-2bYc9LrVu1e")


def page_of(pdf):
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    return reader.pages[0]


def test_the_certificate_says_who_what_when_and_by_whom_in_vietnamese():
    page = page_of(certificate.render(DATA))
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (842, 595)  # A4 landscape
    text = page.extract_text()
    for said in ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc",
                 "GIẤY CHỨNG NHẬN", "Danh hiệu Công dân học tập năm 2025",
                 "Nguyễn Thị Ánh Tuyết", "324/QĐ-KHVN", "HỘI KHUYẾN HỌC PHƯỜNG LONG XUYÊN",
                 "Phường Long Xuyên, Tỉnh An Giang", "ngày 05 tháng 12 năm 2025", DATA.code):
        assert said in text, said
    assert "THU HỒI" not in text


def test_the_qr_code_opens_the_verification_page():
    [image] = page_of(certificate.render(DATA)).images
    [barcode] = zxingcpp.read_barcodes(image.image)
    assert barcode.format == zxingcpp.BarcodeFormat.QRCode
    assert barcode.text == DATA.verify_url


@pytest.mark.parametrize("status, mark", [("revoked", "ĐÃ BỊ THU HỒI"),
                                          ("superseded", "ĐÃ ĐƯỢC THAY THẾ")])
def test_a_title_no_longer_valid_is_marked_across_the_page(status, mark):
    text = page_of(certificate.render(dataclasses.replace(DATA, status=status))).extract_text()
    assert mark in text


def test_without_the_fonts_it_says_which_file_and_package(tmp_path):
    with pytest.raises(certificate.FontMissing, match="fonts-dejavu-core"):
        certificate.register_fonts(tmp_path)
    assert certificate.filename(2025) == "chung-nhan-cong-dan-hoc-tap-2025.pdf"
