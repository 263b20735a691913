"""Train the WordPiece tokenizer of the ``"tiny"`` smoke-test encoder (run once, commit output).

WordPiece training in ``tokenizers`` is not reproducible from run to run, so the tokenizer is
trained once with this script and the result is committed under
``wordot/assets/tiny_tokenizer/``; :mod:`wordot.models.tiny` only ever loads those files.

    python tools/make_tiny_tokenizer.py            # rewrites wordot/assets/tiny_tokenizer/

The training text below was written for this purpose (a few sentences per language in en, de,
fr, es, bg, el, ru, ar, zh). On top of what training finds, every letter of the Latin, Greek,
Cyrillic and Arabic blocks (and a list of common Chinese characters) is put in the vocabulary,
with its ``##`` continuation form, so that no word of those languages becomes ``[UNK]``.
The tokenizer is cased like mBERT's (no lowercasing, accents kept).
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)

OUT = Path(__file__).resolve().parents[1] / "wordot" / "assets" / "tiny_tokenizer"
VOCAB_SIZE = 4000
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

CORPUS = {
    "en": """
The committee approved the report on the protection of the environment.
We must ensure that the rights of all citizens are respected in every member state.
The president thanked the members of parliament for their work this year.
Climate change is one of the greatest challenges facing our generation.
The children went to school early because the weather was beautiful.
I would like to ask the commissioner a question about the new regulation.
The market opens at eight o'clock and closes in the evening.
She reads a book every week and writes short stories in her free time.
Our government will invest more money in public transport and education.
The negotiations between the two countries continued for several months.
Please close the window, it is cold in the room.
The museum houses paintings from the seventeenth and eighteenth centuries.
Farmers are worried about the price of water and energy.
He bought bread, cheese and apples at the small shop near the station.
The debate is closed and the vote will take place tomorrow at noon.
Young people need better opportunities to find work.
The doctor said that the patient should rest for a few days.
This proposal is important for the future of the European Union.
My brother lives in a big city, but I prefer the quiet countryside.
The train was late, so we missed the beginning of the concert.
""",
    "de": """
Der Ausschuss hat den Bericht über den Schutz der Umwelt angenommen.
Wir müssen sicherstellen, dass die Rechte aller Bürger in jedem Mitgliedstaat geachtet werden.
Der Präsident dankte den Abgeordneten für ihre Arbeit in diesem Jahr.
Der Klimawandel ist eine der größten Herausforderungen unserer Generation.
Die Kinder gingen früh zur Schule, weil das Wetter schön war.
Ich möchte der Kommissarin eine Frage zur neuen Verordnung stellen.
Der Markt öffnet um acht Uhr und schließt am Abend.
Sie liest jede Woche ein Buch und schreibt in ihrer Freizeit Kurzgeschichten.
Unsere Regierung wird mehr Geld in den öffentlichen Verkehr und die Bildung investieren.
Die Verhandlungen zwischen den beiden Ländern dauerten mehrere Monate.
Bitte schließen Sie das Fenster, es ist kalt im Zimmer.
Das Museum beherbergt Gemälde aus dem siebzehnten und achtzehnten Jahrhundert.
Die Landwirte sind über den Preis von Wasser und Energie besorgt.
Er kaufte Brot, Käse und Äpfel in dem kleinen Laden am Bahnhof.
Die Aussprache ist geschlossen, die Abstimmung findet morgen um zwölf Uhr statt.
Junge Menschen brauchen bessere Möglichkeiten, Arbeit zu finden.
Der Arzt sagte, dass der Patient sich ein paar Tage ausruhen sollte.
Dieser Vorschlag ist wichtig für die Zukunft der Europäischen Union.
Mein Bruder wohnt in einer großen Stadt, aber ich bevorzuge das ruhige Land.
Der Zug hatte Verspätung, deshalb verpassten wir den Anfang des Konzerts.
""",
    "fr": """
La commission a adopté le rapport sur la protection de l'environnement.
Nous devons veiller à ce que les droits de tous les citoyens soient respectés dans chaque État membre.
Le président a remercié les députés pour leur travail cette année.
Le changement climatique est l'un des plus grands défis de notre génération.
Les enfants sont allés à l'école tôt parce qu'il faisait beau.
Je voudrais poser une question à la commissaire sur le nouveau règlement.
Le marché ouvre à huit heures et ferme le soir.
Elle lit un livre chaque semaine et écrit des nouvelles pendant son temps libre.
Notre gouvernement investira davantage dans les transports publics et l'éducation.
Les négociations entre les deux pays ont duré plusieurs mois.
Fermez la fenêtre, s'il vous plaît, il fait froid dans la pièce.
Le musée abrite des tableaux du dix-septième et du dix-huitième siècle.
Les agriculteurs s'inquiètent du prix de l'eau et de l'énergie.
Il a acheté du pain, du fromage et des pommes dans le petit magasin près de la gare.
Le débat est clos et le vote aura lieu demain à midi.
Les jeunes ont besoin de meilleures possibilités pour trouver du travail.
Le médecin a dit que le patient devait se reposer quelques jours.
Cette proposition est importante pour l'avenir de l'Union européenne.
Mon frère habite dans une grande ville, mais je préfère la campagne tranquille.
Le train était en retard, alors nous avons manqué le début du concert.
""",
    "es": """
La comisión aprobó el informe sobre la protección del medio ambiente.
Debemos garantizar que se respeten los derechos de todos los ciudadanos en cada Estado miembro.
El presidente agradeció a los diputados su trabajo de este año.
El cambio climático es uno de los mayores desafíos de nuestra generación.
Los niños fueron temprano a la escuela porque hacía buen tiempo.
Quisiera hacer una pregunta a la comisaria sobre el nuevo reglamento.
El mercado abre a las ocho y cierra por la tarde.
Ella lee un libro cada semana y escribe cuentos en su tiempo libre.
Nuestro gobierno invertirá más dinero en el transporte público y la educación.
Las negociaciones entre los dos países continuaron durante varios meses.
Por favor, cierre la ventana, hace frío en la habitación.
El museo alberga pinturas de los siglos diecisiete y dieciocho.
Los agricultores están preocupados por el precio del agua y de la energía.
Compró pan, queso y manzanas en la pequeña tienda cerca de la estación.
El debate queda cerrado y la votación tendrá lugar mañana a mediodía.
Los jóvenes necesitan mejores oportunidades para encontrar trabajo.
El médico dijo que el paciente debía descansar unos días.
¿Esta propuesta es importante para el futuro de la Unión Europea? ¡Sí!
Mi hermano vive en una gran ciudad, pero yo prefiero el campo tranquilo.
El tren llegó tarde, así que nos perdimos el comienzo del concierto.
""",
    "bg": """
Комисията одобри доклада за опазването на околната среда.
Трябва да гарантираме, че правата на всички граждани се зачитат във всяка държава членка.
Председателят благодари на членовете на парламента за тяхната работа тази година.
Изменението на климата е едно от най-големите предизвикателства пред нашето поколение.
Децата отидоха рано на училище, защото времето беше хубаво.
Бих искал да задам на комисаря въпрос относно новия регламент.
Пазарът отваря в осем часа и затваря вечерта.
Тя чете по една книга всяка седмица и пише разкази в свободното си време.
Нашето правителство ще инвестира повече пари в обществения транспорт и образованието.
Преговорите между двете държави продължиха няколко месеца.
Моля, затворете прозореца, в стаята е студено.
Музеят съхранява картини от седемнадесети и осемнадесети век.
Земеделските производители са притеснени от цената на водата и енергията.
Той купи хляб, сирене и ябълки в малкия магазин до гарата.
Разискването приключи и гласуването ще се проведе утре по обед.
Младите хора се нуждаят от по-добри възможности да намерят работа.
Лекарят каза, че пациентът трябва да почива няколко дни.
Това предложение е важно за бъдещето на Европейския съюз.
Брат ми живее в голям град, но аз предпочитам тихото село.
Влакът закъсня и затова изпуснахме началото на концерта.
""",
    "el": """
Η επιτροπή ενέκρινε την έκθεση για την προστασία του περιβάλλοντος.
Πρέπει να διασφαλίσουμε ότι τα δικαιώματα όλων των πολιτών γίνονται σεβαστά σε κάθε κράτος μέλος.
Ο πρόεδρος ευχαρίστησε τους βουλευτές για το έργο τους φέτος.
Η κλιματική αλλαγή είναι μία από τις μεγαλύτερες προκλήσεις της γενιάς μας.
Τα παιδιά πήγαν νωρίς στο σχολείο επειδή ο καιρός ήταν ωραίος.
Θα ήθελα να κάνω μια ερώτηση στην επίτροπο σχετικά με τον νέο κανονισμό.
Η αγορά ανοίγει στις οκτώ και κλείνει το βράδυ.
Διαβάζει ένα βιβλίο κάθε εβδομάδα και γράφει διηγήματα στον ελεύθερο χρόνο της.
Η κυβέρνησή μας θα επενδύσει περισσότερα χρήματα στις δημόσιες συγκοινωνίες και την παιδεία.
Οι διαπραγματεύσεις μεταξύ των δύο χωρών συνεχίστηκαν για αρκετούς μήνες.
Κλείστε το παράθυρο, παρακαλώ, κάνει κρύο στο δωμάτιο.
Το μουσείο φιλοξενεί πίνακες του δέκατου έβδομου και του δέκατου όγδοου αιώνα.
Οι αγρότες ανησυχούν για την τιμή του νερού και της ενέργειας.
Αγόρασε ψωμί, τυρί και μήλα στο μικρό μαγαζί κοντά στον σταθμό.
Η συζήτηση έληξε και η ψηφοφορία θα διεξαχθεί αύριο το μεσημέρι.
Οι νέοι χρειάζονται καλύτερες ευκαιρίες για να βρουν δουλειά.
Ο γιατρός είπε ότι ο ασθενής πρέπει να ξεκουραστεί λίγες μέρες.
Αυτή η πρόταση είναι σημαντική για το μέλλον της Ευρωπαϊκής Ένωσης.
Ο αδελφός μου ζει σε μια μεγάλη πόλη, αλλά εγώ προτιμώ την ήσυχη εξοχή.
Το τρένο καθυστέρησε, γι' αυτό χάσαμε την αρχή της συναυλίας.
""",
    "ru": """
Комитет одобрил доклад об охране окружающей среды.
Мы должны обеспечить соблюдение прав всех граждан в каждом государстве-члене.
Председатель поблагодарил депутатов за их работу в этом году.
Изменение климата является одной из самых больших проблем нашего поколения.
Дети рано пошли в школу, потому что погода была хорошая.
Я хотел бы задать комиссару вопрос о новом регламенте.
Рынок открывается в восемь часов и закрывается вечером.
Она читает одну книгу в неделю и пишет рассказы в свободное время.
Наше правительство вложит больше денег в общественный транспорт и образование.
Переговоры между двумя странами продолжались несколько месяцев.
Пожалуйста, закройте окно, в комнате холодно.
В музее хранятся картины семнадцатого и восемнадцатого веков.
Фермеры обеспокоены ценой на воду и электроэнергию.
Он купил хлеб, сыр и яблоки в маленьком магазине у вокзала.
Прения закрыты, голосование состоится завтра в полдень.
Молодым людям нужны лучшие возможности для поиска работы.
Врач сказал, что пациенту нужно отдохнуть несколько дней.
Это предложение важно для будущего Европейского союза.
Мой брат живёт в большом городе, а я предпочитаю тихую деревню.
Поезд опоздал, поэтому мы пропустили начало концерта.
""",
    "ar": """
وافقت اللجنة على التقرير المتعلق بحماية البيئة.
يجب أن نضمن احترام حقوق جميع المواطنين في كل دولة عضو.
شكر الرئيس أعضاء البرلمان على عملهم هذا العام.
يعد تغير المناخ من أكبر التحديات التي تواجه جيلنا.
ذهب الأطفال إلى المدرسة مبكرا لأن الطقس كان جميلا.
أود أن أطرح سؤالا على المفوضة بشأن اللائحة الجديدة.
يفتح السوق في الساعة الثامنة ويغلق في المساء.
تقرأ كتابا كل أسبوع وتكتب قصصا قصيرة في وقت فراغها.
ستستثمر حكومتنا مزيدا من الأموال في النقل العام والتعليم.
استمرت المفاوضات بين البلدين عدة أشهر.
من فضلك أغلق النافذة، الجو بارد في الغرفة.
يضم المتحف لوحات من القرنين السابع عشر والثامن عشر.
يشعر المزارعون بالقلق بشأن سعر الماء والطاقة.
اشترى خبزا وجبنا وتفاحا من المتجر الصغير قرب المحطة.
انتهت المناقشة وسيجرى التصويت غدا عند الظهر.
يحتاج الشباب إلى فرص أفضل للعثور على عمل.
قال الطبيب إن على المريض أن يرتاح بضعة أيام.
هذا الاقتراح مهم لمستقبل الاتحاد الأوروبي.
يعيش أخي في مدينة كبيرة، لكنني أفضل الريف الهادئ.
تأخر القطار، لذلك فاتتنا بداية الحفلة الموسيقية.
""",
    "zh": """
委员会通过了关于环境保护的报告。
我们必须确保每个成员国都尊重所有公民的权利。
主席感谢议员们今年所做的工作。
气候变化是我们这一代人面临的最大挑战之一。
因为天气很好，孩子们很早就去上学了。
我想就新的条例向委员提一个问题。
市场早上八点开门，晚上关门。
她每周读一本书，业余时间写短篇小说。
我们的政府将在公共交通和教育方面投入更多资金。
两国之间的谈判持续了几个月。
请关上窗户，房间里很冷。
博物馆收藏了十七世纪和十八世纪的绘画。
农民们担心水和能源的价格。
他在车站附近的小商店买了面包、奶酪和苹果。
辩论结束了，明天中午进行表决。
年轻人需要更好的机会来找到工作。
医生说病人应该休息几天。
这项提案对欧洲联盟的未来很重要。
我哥哥住在一个大城市，但我更喜欢安静的乡村。
火车晚点了，所以我们错过了音乐会的开头。
""",
}

# Frequent simplified Chinese characters (each is its own word after BertNormalizer's
# handle_chinese_chars, so only the bare form is needed, no ## continuation).
COMMON_HANZI = (
    "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着"
    "事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定"
    "见只主没公从知样现最新工间力理想问开手门实头西长向北东南文明白本高月体政党全机关元民动意因"
    "重情外水提点老先回几正部少产样已原使被由化论思气总次条件表女车路百千万期比收完话活通风"
    "今信安早吃饭喝茶书读写字语言汉英法德俄希腊阿拉伯班牙保加利亚欧洲美亚非世界和平战争经济社会文化"
    "历史科学技术教育医院学校老师朋友父母儿女兄弟姐妹爱喜欢快乐春夏秋冬雨雪山河海城市村"
    "红黄蓝绿黑色买卖钱价值商店银行电脑网站手机照片音乐电影"
)


def alphabet() -> list[str]:
    """Letters every word of the covered languages may use (plus ASCII and common punctuation)."""
    chars = {chr(c) for c in range(0x21, 0x7F)}
    ranges = [
        (0x00A1, 0x017F),  # Latin-1 supplement + Latin Extended-A
        (0x0370, 0x03FF),  # Greek
        (0x1F00, 0x1FFF),  # Greek extended (polytonic)
        (0x0400, 0x04FF),  # Cyrillic
        (0x0600, 0x06FF),  # Arabic
        (0x2010, 0x2027),  # dashes, quotes, ellipsis
    ]
    for lo, hi in ranges:
        for c in range(lo, hi + 1):
            ch = chr(c)
            if unicodedata.category(ch)[0] in "LMNPS" and unicodedata.category(ch) != "Mn":
                chars.add(ch)
            elif unicodedata.category(ch) == "Mn" and 0x064B <= c <= 0x0652:  # Arabic harakat
                chars.add(ch)
    chars.update(COMMON_HANZI)
    chars.update("。，、；：？！“”‘’（）《》")
    return sorted(chars)


def _is_cjk(ch: str) -> bool:
    return 0x4E00 <= ord(ch) <= 0x9FFF or 0x3000 <= ord(ch) <= 0x303F or 0xFF00 <= ord(ch) <= 0xFFEF


def build(vocab_size: int = VOCAB_SIZE) -> Tokenizer:
    """Train the WordPiece tokenizer on :data:`CORPUS`, then add the alphabet (and ``##`` forms)."""
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]", max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    letters = alphabet()
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=SPECIALS,
        initial_alphabet=letters,
        limit_alphabet=len(letters) + 200,
        continuing_subword_prefix="##",
    )
    lines = [ln for text in CORPUS.values() for ln in text.strip().splitlines()]
    tok.train_from_iterator(lines, trainer=trainer)

    # make sure every letter exists both word-initially and as a ## continuation
    vocab = tok.get_vocab()
    extra = [ch for ch in letters if ch not in vocab]
    extra += ["##" + ch for ch in letters if not _is_cjk(ch) and "##" + ch not in vocab]
    spec = json.loads(tok.to_str())
    ids = spec["model"]["vocab"]
    for piece in extra:
        ids[piece] = len(ids)
    tok = Tokenizer.from_str(json.dumps(spec))

    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    return tok


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--vocab-size", type=int, default=VOCAB_SIZE)
    args = ap.parse_args()

    from transformers import PreTrainedTokenizerFast

    fast = PreTrainedTokenizerFast(
        tokenizer_object=build(args.vocab_size),
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
        model_max_length=512,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(args.out))
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"wrote {args.out} ({len(fast)} tokens, {size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
