//! Debian versions (`[epoch:]upstream[-revision]`) and their ordering, identical to dpkg.
