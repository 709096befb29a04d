"""Typed calls to outside services over an injected httpx client (payment gateway, e-mail provider).

Empty until the gateway and e-mail clients arrive; the layer exists so its contracts hold from day one.
"""
