"""Fixed lists the synthetic city is drawn from: subjects, school names, districts, person names.

Every name here is made up or a common first/family name; combined at random they describe nobody.
All strings are encodable in Windows-1252, because some enrollment lists are written in that encoding.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subject:
    designation: str  # SS 12000 subjectDesignation
    name: str  # subjectName
    weekly_minutes: int  # scheduled minutes a week (drives offeredSum)
    offset: float  # grade difficulty: added to the pupil's ability score
    language: str | None = None  # ISO 639-3 for languages (moderna språk, modersmål)
    kind: str = "core"  # core | sv | m2 | ml


# Order matters: it is the order grades are written for a pupil and term.
SUBJECTS: tuple[Subject, ...] = (
    Subject("SV", "Svenska", 180, 0.0, kind="sv"),
    Subject("SVA", "Svenska som andraspråk", 180, -0.15, kind="sv"),
    Subject("EN", "Engelska", 120, 0.15),
    Subject("MA", "Matematik", 170, -0.2),
    Subject("BI", "Biologi", 80, 0.0),
    Subject("FY", "Fysik", 80, -0.15),
    Subject("KE", "Kemi", 80, -0.15),
    Subject("GE", "Geografi", 70, 0.0),
    Subject("HI", "Historia", 70, 0.0),
    Subject("RE", "Religionskunskap", 70, 0.05),
    Subject("SH", "Samhällskunskap", 70, 0.0),
    Subject("BL", "Bild", 60, 0.25),
    Subject("HKK", "Hem- och konsumentkunskap", 60, 0.2),
    Subject("IDH", "Idrott och hälsa", 90, 0.3),
    Subject("MU", "Musik", 60, 0.25),
    Subject("SL", "Slöjd", 60, 0.2),
    Subject("TK", "Teknik", 60, 0.0),
    Subject("M2SPA", "Moderna språk, spanska", 120, -0.05, "spa", "m2"),
    Subject("M2TYS", "Moderna språk, tyska", 120, -0.05, "deu", "m2"),
    Subject("M2FRA", "Moderna språk, franska", 120, -0.05, "fra", "m2"),
    Subject("MLARA", "Modersmål, arabiska", 60, 0.35, "ara", "ml"),
    Subject("MLSOM", "Modersmål, somaliska", 60, 0.35, "som", "ml"),
    Subject("MLPER", "Modersmål, persiska", 60, 0.35, "fas", "ml"),
    Subject("MLTIR", "Modersmål, tigrinja", 60, 0.35, "tir", "ml"),
    Subject("MLPOL", "Modersmål, polska", 60, 0.35, "pol", "ml"),
    Subject("MLTUR", "Modersmål, turkiska", 60, 0.35, "tur", "ml"),
    Subject("MLFIN", "Modersmål, finska", 60, 0.35, "fin", "ml"),
    Subject("MLSPA", "Modersmål, spanska", 60, 0.35, "spa", "ml"),
    Subject("MLRUS", "Modersmål, ryska", 60, 0.35, "rus", "ml"),
    Subject("MLKUR", "Modersmål, kurdiska", 60, 0.35, "kur", "ml"),
)
SUBJECT_BY_CODE = {s.designation: s for s in SUBJECTS}
# The 15 subjects every pupil reads besides SV/SVA (with SV/SVA: the 16 of the merit value).
COMMON = tuple(s.designation for s in SUBJECTS if s.kind == "core")
M2_WEIGHTS = (("M2SPA", 55), ("M2TYS", 25), ("M2FRA", 20))
# Modersmål language -> weight among the pupils who read modersmål; the key is also the name origin.
ML_WEIGHTS = (
    ("MLARA", 30), ("MLSOM", 15), ("MLPER", 10), ("MLTIR", 8), ("MLPOL", 7),
    ("MLTUR", 6), ("MLFIN", 6), ("MLSPA", 8), ("MLRUS", 5), ("MLKUR", 5),
)

# Today's districts, their share of the city's pupils (roughly), an ASCII slug for file names,
# and the names lists still use for them (DESIGN 6).
DISTRICTS: tuple[tuple[str, int, str, tuple[str, ...]], ...] = (
    ("Bromma", 11, "bromma", ()),
    ("Enskede-Årsta-Vantör", 12, "enskede-arsta-vantor", ()),
    ("Farsta", 8, "farsta", ()),
    ("Hägersten-Älvsjö", 11, "hagersten-alvsjo", ("Hägersten-Liljeholmen", "Älvsjö")),
    ("Hässelby-Vällingby", 10, "hasselby-vallingby", ()),
    ("Järva", 13, "jarva", ("Rinkeby-Kista", "Spånga-Tensta")),
    ("Kungsholmen", 7, "kungsholmen", ()),
    ("Norra innerstaden", 9, "norra-innerstaden", ("Norrmalm", "Östermalm")),
    ("Skarpnäck", 7, "skarpnack", ()),
    ("Skärholmen", 5, "skarholmen", ()),
    ("Södermalm", 9, "sodermalm", ()),
)
# Names that are not a Stockholm district (neighbouring municipalities, a part of town).
UNKNOWN_DISTRICTS = ("Solna", "Sundbyberg", "Vasastan")

SCHOOL_NAMES: dict[str, tuple[str, ...]] = {
    "Bromma": (
        "Alviksskolan", "Ålstensskolan", "Äppelviksskolan", "Nockebyhovsskolan", "Höglandsskolan",
        "Olovslundsskolan", "Smedslättsskolan", "Norra Ängby skola", "Södra Ängby skola", "Ulvsundaskolan",
        "Mariehällsskolan", "Blommensbergsskolan", "Riksbyskolan", "Abrahamsbergsskolan",
    ),
    "Enskede-Årsta-Vantör": (
        "Årstaskolan", "Enskedefältets skola", "Sandsborgsskolan", "Gubbängsskolan", "Bandhagens skola",
        "Västbergaskolan", "Rågsvedsskolan", "Högdalsskolan", "Stureby skola", "Kämpetorpsskolan",
        "Vantörsskolan", "Snösätraskolan", "Örbyskolan", "Årstadalsskolan", "Hagsätraskolan",
    ),
    "Farsta": (
        "Farstaskolan", "Sandåkraskolan", "Hökarängsskolan", "Fagersjöskolan", "Larsboskolan",
        "Västerholms skola", "Svedmyraskolan", "Tallkrogens skola", "Sköndalsskolan", "Skarpängsskolan",
        "Farsta strandskolan", "Gubbängens skola",
    ),
    "Hägersten-Älvsjö": (
        "Västertorpsskolan", "Fruängens skola", "Hägerstensåsens skola", "Mälarhöjdens skola",
        "Aspuddens skola", "Midsommarkransens skola", "Liljeholmsskolan", "Gröndalsskolan", "Älvsjöskolan",
        "Långbrodalsskolan", "Solbergaskolan", "Herrängens skola", "Örby slottsskola", "Hägerstensskolan",
    ),
    "Hässelby-Vällingby": (
        "Vällingbyskolan", "Blackebergsskolan", "Grimstaskolan", "Hässelby villastads skola",
        "Hässelbygårdsskolan", "Vinstaskolan", "Kälvestaskolan", "Nälstaskolan", "Trädgårdsstadsskolan",
        "Maltesholmsskolan", "Råcksta skola", "Johannelundsskolan",
    ),
    "Järva": (
        "Rinkebyskolan", "Kvarnbyskolan", "Askebyskolan", "Hjulsta grundskola", "Tensta skola",
        "Husbyskolan", "Kistaskolan", "Akallaskolan", "Eriksbergsskolan", "Spånga grundskola",
        "Solhemsskolan", "Bromstensskolan", "Sundbyskolan", "Lorensbergsskolan", "Oxhagsskolan",
        "Knutbyskolan",
    ),
    "Kungsholmen": (
        "Kungsholmens grundskola", "Fridhemsskolan", "Rålambshovsskolan", "Stadshagsskolan",
        "Essingeskolan", "Kristinebergsskolan", "Thorildsplans skola", "Mariebergsskolan",
        "Lindhagensskolan", "Fredhällsskolan",
    ),
    "Norra innerstaden": (
        "Engelbrektsskolan", "Matteusskolan", "Adolf Fredriks skola", "Hedvig Eleonora skola",
        "Östermalmsskolan", "Gustav Vasa skola", "Vasa real", "Sibirienskolan", "Gärdesskolan",
        "Hjorthagens skola", "Lärkstadens skola", "Tegnérskolan",
    ),
    "Skarpnäck": (
        "Skarpnäcksskolan", "Pilträdsskolan", "Björkhagens skola", "Kärrtorpsskolan",
        "Bagarmossens skola", "Hammarbyhöjdens skola", "Orhemsskolan", "Flatenskolan", "Ältaskolan",
        "Skarpnäcksfältets skola",
    ),
    "Skärholmen": (
        "Skärholmsskolan", "Bredängsskolan", "Sätraskolan", "Vårbergsskolan", "Kransens skola",
        "Klastorpsskolan", "Vårbyskolan", "Sätrastrandsskolan",
    ),
    "Södermalm": (
        "Eriksdalsskolan", "Sofia skola", "Katarina södra skola", "Katarina norra skola", "Högalidsskolan",
        "Rosenlundsskolan", "Hammarby sjöstadsskolan", "Vita bergens skola", "Mariaskolan", "Ersta skola",
        "Tantoskolan", "Långholmens skola",
    ),
}

# Given names (male, female) and family names by origin. "sv" is the majority; the others go with a
# modersmål language (the ML designation's code) and with some pupils who read none.
NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "sv": (
        ("Adam", "Albin", "Alexander", "Alfred", "Anton", "Arvid", "Axel", "Carl", "Casper", "Edvin",
         "Elias", "Emil", "Erik", "Filip", "Gustav", "Hugo", "Isak", "Jacob", "Leo", "Liam", "Lucas",
         "Ludvig", "Melvin", "Nils", "Noah", "Oliver", "Olle", "Oscar", "Sixten", "Theo", "Viktor",
         "Vincent", "William", "Viggo", "Måns", "Love", "Malte", "Sigge"),
        ("Agnes", "Alice", "Alva", "Astrid", "Ebba", "Elin", "Ella", "Ellen", "Elsa", "Emma", "Freja",
         "Hanna", "Ida", "Ines", "Julia", "Klara", "Lea", "Lilly", "Linnea", "Maja", "Matilda", "Meja",
         "Moa", "Nora", "Olivia", "Saga", "Selma", "Signe", "Stella", "Tilda", "Vera", "Wilma", "Ester",
         "Tyra", "Ronja", "Majken"),
        ("Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
         "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Jansson", "Hansson", "Bengtsson", "Jönsson",
         "Lindberg", "Jakobsson", "Magnusson", "Lindström", "Olofsson", "Lindqvist", "Lindgren", "Berg",
         "Axelsson", "Bergström", "Lundberg", "Lind", "Lundgren", "Lundqvist", "Mattsson", "Berglund",
         "Fredriksson", "Sandberg", "Henriksson", "Forsberg", "Sjöberg", "Wallin", "Engström", "Eklund",
         "Danielsson", "Lundin", "Håkansson", "Björk", "Bergman", "Gunnarsson", "Holm", "Wikström",
         "Samuelsson", "Isaksson", "Fransson", "Bergqvist", "Nyström", "Holmberg", "Arvidsson", "Löfgren",
         "Söderberg", "Nyberg", "Blomqvist", "Claesson", "Nordström", "Mårtensson", "Lundström",
         "Viklund", "Björklund", "Eliasson", "Pålsson", "Berggren", "Sandström", "Nordin", "Ström",
         "Åberg", "Hermansson", "Ekström", "Holmgren", "Sundberg", "Hedlund", "Dahlberg", "Hellström",
         "Sjögren", "Falk", "Martinsson", "Öberg", "Strömberg", "Månsson", "Åkesson", "Norberg", "Dahl"),
    ),
    "MLARA": (
        ("Mohammed", "Ahmad", "Ali", "Omar", "Hassan", "Yousef", "Ibrahim", "Khaled", "Karim", "Hamza",
         "Mustafa", "Zakaria", "Adam", "Elias"),
        ("Fatima", "Mariam", "Aya", "Sara", "Noor", "Leila", "Hiba", "Yasmin", "Amira", "Zainab", "Rania",
         "Lana", "Maya"),
        ("Al-Hassan", "Haddad", "Khalil", "Mansour", "Nasser", "Saleh", "Hussein", "Abbas", "Jaber",
         "Youssef", "Darwish", "Hamdan", "Al-Khatib", "Issa"),
    ),
    "MLSOM": (
        ("Abdirahman", "Abdullahi", "Mohamed", "Hassan", "Yusuf", "Abdikarim", "Liban", "Hamza", "Ilyas"),
        ("Hodan", "Hamdi", "Sagal", "Ayaan", "Fartun", "Ifrah", "Nasra", "Hibaaq", "Sumaya"),
        ("Warsame", "Farah", "Abdi", "Jama", "Osman", "Hersi", "Aden", "Ismail", "Mohamud", "Egal"),
    ),
    "MLPER": (
        ("Arash", "Dariush", "Kian", "Navid", "Reza", "Amir", "Parsa", "Aryan", "Sina"),
        ("Shirin", "Parisa", "Yasmin", "Nazanin", "Roya", "Sara", "Tara", "Mina", "Donya"),
        ("Ahmadi", "Hosseini", "Karimi", "Rahimi", "Mohammadi", "Rezaei", "Moradi", "Jafari", "Sadeghi",
         "Azizi"),
    ),
    "MLTIR": (
        ("Yonas", "Dawit", "Filmon", "Samuel", "Robel", "Mussie", "Henok", "Teklay"),
        ("Senait", "Selam", "Helen", "Ruth", "Eden", "Saba", "Mebrat", "Luwam"),
        ("Tesfay", "Gebremedhin", "Haile", "Berhane", "Tekle", "Kidane", "Yohannes", "Woldu"),
    ),
    "MLPOL": (
        ("Jakub", "Kacper", "Szymon", "Filip", "Jan", "Antoni", "Mateusz", "Piotr"),
        ("Zuzanna", "Julia", "Maja", "Zofia", "Hanna", "Lena", "Alicja", "Oliwia"),
        ("Nowak", "Kowalski", "Wisniewski", "Wójcik", "Kowalczyk", "Kaminski", "Lewandowski", "Zielinski",
         "Szymanski", "Wozniak"),
    ),
    "MLTUR": (
        ("Emir", "Yusuf", "Mehmet", "Ahmet", "Emre", "Can", "Kerem", "Deniz"),
        ("Elif", "Zeynep", "Defne", "Ecem", "Asli", "Melek", "Selin", "Nisa"),
        ("Yilmaz", "Kaya", "Demir", "Sahin", "Çelik", "Yildiz", "Aydin", "Öztürk", "Arslan", "Dogan"),
    ),
    "MLFIN": (
        ("Eino", "Väinö", "Onni", "Aleksi", "Elias", "Juho", "Veeti", "Leevi"),
        ("Aino", "Eevi", "Helmi", "Sofia", "Venla", "Iida", "Pihla", "Aada"),
        ("Virtanen", "Korhonen", "Mäkinen", "Nieminen", "Mäkelä", "Hämäläinen", "Laine", "Heikkinen",
         "Koskinen", "Järvinen"),
    ),
    "MLSPA": (
        ("Mateo", "Santiago", "Diego", "Matías", "Sebastián", "Tomás", "Nicolás", "Joaquín"),
        ("Valentina", "Camila", "Sofía", "Isabella", "Martina", "Lucía", "Antonella", "Catalina"),
        ("González", "Rodríguez", "Fernández", "López", "Martínez", "Pérez", "García", "Sánchez", "Romero",
         "Torres"),
    ),
    "MLRUS": (
        ("Ivan", "Dmitrij", "Aleksej", "Maksim", "Artem", "Nikita", "Michail", "Daniil"),
        ("Anastasia", "Darja", "Polina", "Jelizaveta", "Viktoria", "Ksenia", "Sofia", "Alina"),
        ("Ivanov", "Smirnov", "Kuznetsov", "Popov", "Volkov", "Sokolov", "Morozov", "Novikov"),
    ),
    "MLKUR": (
        ("Rebin", "Soran", "Baran", "Dilan", "Aram", "Karwan", "Rojhat", "Zana"),
        ("Rojin", "Hevi", "Berfin", "Delal", "Nazdar", "Ronahi", "Sozdar", "Zilan"),
        ("Ahmed", "Rashid", "Kareem", "Mahmoud", "Qadir", "Aziz", "Hamad", "Salih", "Omer"),
    ),
}

COMMENTS = (
    "", "", "", "", "", "", "Uppföljning v.12", "Ny kontakt med skolan", "Vårdnadshavare informerad",
    "Överförd från annan handläggare", "Avvaktar skolans kartläggning", "Möte inbokat", "Se journal",
)
ERASURE_REASONS = ("Begäran om radering", "Samtycke återkallat")
