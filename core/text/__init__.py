"""The one set of text rules everything shares: where sentences end (``sentences``) and what a
word is, which words carry no meaning and how words are stemmed (``words``)."""
