"""A local press site for the whole-article tests and the bench: article pages
built in several layouts around the same bodies (`site`), each page naming
OHCHR, the UPR and the ILO in its menus, sidebars, breadcrumbs, cookie banner
and footer, while only some bodies mention them."""
