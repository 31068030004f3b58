"""The genetic codes genetune translates with: NCBI's translation tables by number (one string of 64
amino acids per table, codons in TCAG order, `*` for stop), for `genetic_code:` in the config."""

BASES = "TCAG"
TABLES = {
    1: "FFLLSSSSYY**CC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",  # standard
    2: "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSS**VVVVAAAADDEEGGGG",  # vertebrate mitochondrial
    3: "FFLLSSSSYY**CCWWTTTTPPPPHHQQRRRRIIMMTTTTNNKKSSRRVVVVAAAADDEEGGGG",  # yeast mitochondrial
    4: "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",  # mold, protozoan mitochondrial
    5: "FFLLSSSSYY**CCWWLLLLPPPPHHQQRRRRIIMMTTTTNNKKSSSSVVVVAAAADDEEGGGG",  # invertebrate mitochondrial
    6: "FFLLSSSSYYQQCC*WLLLLPPPPHHQQRRRRIIIMTTTTNNKKSSRRVVVVAAAADDEEGGGG",  # ciliate, dasycladacean, hexamita nuclear
}
NAMES = {
    1: "standard",
    2: "vertebrate mitochondrial",
    3: "yeast mitochondrial",
    4: "mold, protozoan and coelenterate mitochondrial",
    5: "invertebrate mitochondrial",
    6: "ciliate, dasycladacean and hexamita nuclear",
}
CODONS = {
    n: {
        a + b + c: aa[16 * i + 4 * j + k]
        for i, a in enumerate(BASES)
        for j, b in enumerate(BASES)
        for k, c in enumerate(BASES)
    }
    for n, aa in TABLES.items()
}


def translate(dna, table=1, first_is_start=False):
    """Protein of an upper-case DNA string in frame 0 (a trailing partial codon dropped; a codon with
    another letter than ACGT is X). first_is_start: the first codon is the start codon, translated
    M whatever amino acid it codes elsewhere (NCBI's rule for alternative start codons)."""
    codons = CODONS[table]
    protein = "".join(codons.get(dna[i : i + 3], "X") for i in range(0, len(dna) - len(dna) % 3, 3))
    return "M" + protein[1:] if first_is_start and protein else protein
