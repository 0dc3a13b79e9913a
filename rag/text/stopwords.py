"""Stop words: the function words that carry no answer, per use (their lists differ on purpose)."""

from __future__ import annotations

# What the answerer drops from a question before matching its words with a sentence: function words and the
# question words themselves ("combien", "whose"). Stemmed per language where used.
QUESTION_STOPWORDS: dict[str, str] = {
    "fr": "a à au aux avec ce ces cet cette dans de des du elle elles en est et été être il ils la le les leur "
          "leurs lors lui mais même ne ni nos notre on ont ou où par pas pour qu que quel quelle quelles quels qui "
          "sa se ses son sont sur ta te tes ton tu un une vos votre vous y combien comment quand pourquoi était "
          "étaient avait avaient fait faite faits quoi lequel laquelle lesquels dont selon ainsi aussi cela ça "
          "celui celle ceux est-ce",
    "en": "a an and are as at be been by did do does for from had has have he her his how in into is it its "
          "of on or she that the their them they this those to was were what when where which who whom whose why "
          "with would will many much there these than then also any did about after before during said say",
}

# Words the LLM-reply check ignores when it asks whether a sentence shares content with its passage;
# accent-folded, as rag.answer.grounding compares them.
REPLY_CHECK_STOPWORDS = frozenset((
    "les", "des", "une", "pour", "par", "dans", "sur", "avec", "que", "qui", "quoi", "est", "sont", "ete", "ont",
    "aux", "ses", "son", "sa", "leur", "leurs", "cette", "ces", "elle", "ils", "nous", "vous", "pas", "plus",
    "mais", "comme", "ainsi", "tout", "tous", "entre", "lors", "selon", "dont", "meme", "the", "and", "for",
    "with", "that", "this", "was", "were", "are", "has", "have", "had", "from", "into", "about", "which", "who",
    "what", "when", "where", "their", "its", "his", "her", "they", "them", "than", "then", "also", "been", "not",
    "but",
))
