"""Text side: class names, prompt templates, word corpora, cached text embeddings, NegLabel mining."""
from .class_names import load_class_names, resolve_path
from .corpus import load_corpus
from .decoder_words import NON_SEMANTIC_WORDS, DecodedWordPool, filter_decoded_words, select_token_ids
from .embeddings import build_text_classifier_cached, encode_prompts_cached
from .mining import (ID_NAME_RULES, clean_labels, mine_indices, mine_negative_labels, quantile_similarity,
                     read_selected_file, select_lowest, split_counts, write_prompts)
from .prompts import PROMPT_SETS, resolve_templates
from .pseudo_labels import NAMED_CLASS_LISTS, compute_pseudo_labels, resolve_class_names

__all__ = [
    'load_class_names', 'resolve_path', 'load_corpus', 'encode_prompts_cached', 'build_text_classifier_cached',
    'ID_NAME_RULES', 'clean_labels', 'mine_indices', 'mine_negative_labels', 'quantile_similarity',
    'read_selected_file', 'select_lowest', 'split_counts', 'write_prompts', 'PROMPT_SETS', 'resolve_templates',
    'NAMED_CLASS_LISTS', 'compute_pseudo_labels', 'resolve_class_names', 'NON_SEMANTIC_WORDS', 'DecodedWordPool',
    'filter_decoded_words', 'select_token_ids'
]
from .outliers import (DESCRIPTION_PREFIX, OUTLIER_LEVELS, TOE_TEMPLATES, WORD_TEMPLATE, caption_filter,
                       debug_expand, description_outliers, outlier_source_problems, read_outlier_header,
                       read_outlier_list, select_per_class, word_outliers, wordnet_window, write_outlier_list)

__all__ += [
    'OUTLIER_LEVELS', 'WORD_TEMPLATE', 'DESCRIPTION_PREFIX', 'TOE_TEMPLATES', 'read_outlier_list',
    'write_outlier_list', 'read_outlier_header', 'word_outliers', 'debug_expand', 'wordnet_window',
    'description_outliers', 'caption_filter', 'select_per_class', 'outlier_source_problems'
]
