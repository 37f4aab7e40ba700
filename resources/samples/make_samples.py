"""Write the sample PDFs offered on first run ("Try the sample documents").

The Markdown, HTML and text samples are plain files kept beside the PDFs; the PDFs are
generated so their text stays editable here. Run from the repository root after changing them:

    python resources/samples/make_samples.py

Output is byte-for-byte reproducible (fixed metadata, no random document id), so regenerating
only changes what the text changed.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

OUT = Path(__file__).resolve().parent / "documents"
MARGIN = 72
BODY_SIZE = 10.5
HEADING_SIZE = 17
SUBHEADING_SIZE = 12.5
LINE_GAP = 1.25  # body line height as a multiple of the font size

TENANCY = [
    ("h1", "Assured Shorthold Tenancy Agreement"),
    (
        "p",
        "This agreement is made on 1 September 2024 between Margaret Ellison of 14 Orchard "
        "Lane, Bristol BS6 7QT (the Landlord) and Daniel Okafor (the Tenant) for the letting "
        "of Flat 3, 27 Cotham Hill, Bristol BS6 6LA (the Property).",
    ),
    ("h2", "1. Term"),
    (
        "p",
        "The tenancy begins on 15 September 2024 and runs for a fixed term of twelve months. "
        "If neither party ends it at the close of the fixed term, it continues from month to "
        "month on the same terms.",
    ),
    ("h2", "2. Rent"),
    (
        "p",
        "The rent is £1,150 per calendar month, payable in advance on the 15th day of each "
        "month by standing order to the account the Landlord names in writing. Rent that is "
        "more than fourteen days late may attract interest at 3% above the Bank of England "
        "base rate, counted from the day it fell due.",
    ),
    (
        "p",
        "The Landlord may review the rent once a year, on the anniversary of the start date, "
        "by giving the Tenant at least one month's written notice of the new amount.",
    ),
    ("h2", "3. Deposit"),
    (
        "p",
        "The Tenant pays a deposit of £1,325 before moving in. The Landlord protects it with "
        "the Deposit Protection Service within 30 days of receiving it and gives the Tenant "
        "the prescribed information about the scheme. At the end of the tenancy the deposit "
        "is returned within ten days of both parties agreeing any deductions.",
    ),
    ("page", ""),
    ("h2", "4. Ending the tenancy"),
    (
        "p",
        "After the fixed term the Tenant may end the tenancy by giving the Landlord sixty days "
        "written notice, expiring at the end of a rental period. Notice may be sent by post to "
        "the Landlord's address above or by email to the address the Landlord has given for "
        "notices.",
    ),
    (
        "p",
        "The Landlord must give the Tenant at least two months' notice in the form the law "
        "requires, and may not end the tenancy before the fixed term is over except on the "
        "grounds the law allows.",
    ),
    ("h2", "5. Repairs and maintenance"),
    (
        "p",
        "The Landlord keeps the structure and exterior in repair, together with the boiler, "
        "radiators, water pipes, drains and electrical wiring. The Tenant reports any fault "
        "promptly, and the Landlord arranges a repair within a reasonable time: within 24 "
        "hours for loss of heating or hot water between October and April.",
    ),
    (
        "p",
        "The Tenant keeps the inside of the Property clean, replaces light bulbs and smoke "
        "alarm batteries, and bleeds the radiators when needed. Damage caused by the Tenant "
        "or their guests, beyond fair wear and tear, is the Tenant's to put right.",
    ),
    ("h2", "6. Pets, smoking and subletting"),
    (
        "p",
        "The Tenant may keep one cat or one small dog with the Landlord's written consent, "
        "which will not be unreasonably refused. Smoking is not allowed inside the Property. "
        "The Tenant may not sublet or take in lodgers without the Landlord's written consent.",
    ),
    ("page", ""),
    ("h2", "7. Access"),
    (
        "p",
        "The Landlord or their agent may enter the Property to inspect it or carry out repairs "
        "at reasonable times of day, after giving at least 24 hours' written notice, except in "
        "an emergency.",
    ),
    ("h2", "8. Bills and council tax"),
    (
        "p",
        "The Tenant pays for gas, electricity, water, broadband and the television licence, "
        "and is responsible for council tax for the length of the tenancy. Meter readings are "
        "taken together on the first and last day of the tenancy.",
    ),
    ("h2", "Signatures"),
    (
        "p",
        "Signed by the Landlord: Margaret Ellison, 1 September 2024.\n"
        "Signed by the Tenant: Daniel Okafor, 1 September 2024.",
    ),
]

BOILER_REPORT = [
    ("h1", "Annual Boiler Service Report"),
    (
        "p",
        "Customer: Daniel Okafor, Flat 3, 27 Cotham Hill, Bristol BS6 6LA. Engineer: Priya "
        "Raman, Gas Safe registration 584213. Visit date: 9 January 2025.",
    ),
    ("h2", "Appliance"),
    (
        "p",
        "Worcester Bosch Greenstar 30i combination boiler, installed 2017, wall mounted in the "
        "kitchen cupboard. Flue: horizontal, terminating on the rear wall.",
    ),
    ("h2", "Checks carried out"),
    (
        "p",
        "Burner pressure and gas rate measured and within the manufacturer's range. Flue gas "
        "analysis: CO 42 ppm, CO/CO2 ratio 0.0046, which is safe. Condensate trap cleaned and "
        "refilled. Expansion vessel re-pressurised to 1 bar. System pressure was low at 0.6 "
        "bar and was topped up to 1.3 bar.",
    ),
    ("h2", "Findings and advice"),
    (
        "p",
        "The boiler is safe to use. The pressure loss suggests a small leak; check the "
        "radiator valves in the bedroom for drips over the next two weeks. If the pressure "
        "falls below 1 bar again, top it up using the filling loop under the boiler and call "
        "us. Next service due by January 2026.",
    ),
]


def write_pdf(path: Path, blocks: list[tuple[str, str]], title: str) -> None:
    document = pymupdf.open()
    page = document.new_page(width=595, height=842)  # A4
    y = MARGIN
    width = page.rect.width - 2 * MARGIN
    for kind, text in blocks:
        if kind == "page":
            page, y = document.new_page(width=595, height=842), MARGIN
            continue
        size, font, after = {
            "h1": (HEADING_SIZE, "hebo", 14.0),
            "h2": (SUBHEADING_SIZE, "hebo", 4.0),
            "p": (BODY_SIZE, "helv", 9.0),
        }[kind]
        box = pymupdf.Rect(MARGIN, y, MARGIN + width, page.rect.height - MARGIN)
        spare = page.insert_textbox(
            box, text, fontsize=size, fontname=font, lineheight=LINE_GAP if kind == "p" else None
        )
        if spare < 0:
            raise ValueError(f"{path.name}: text does not fit: {text[:40]!r}")
        y = box.y1 - spare + after
    document.set_metadata(
        {
            "title": title,
            "author": "Kenning sample documents",
            "creationDate": "D:20240901090000Z",
            "modDate": "D:20240901090000Z",
            "producer": "",
            "creator": "",
        }
    )
    document.save(path, garbage=3, deflate=True, no_new_id=True)
    document.close()


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    write_pdf(OUT / "tenancy-agreement.pdf", TENANCY, "Assured Shorthold Tenancy Agreement")
    write_pdf(OUT / "boiler-service-2025.pdf", BOILER_REPORT, "Annual Boiler Service Report")
    print(f"Wrote sample PDFs to {OUT}")


if __name__ == "__main__":
    main()
