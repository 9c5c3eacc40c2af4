# 2025-09-09 16:28:25 by RouterOS 7.19.4
# model = C53UiG+5HPaxD2HPaxD
/interface bridge
add admin-mac=78:9A:18:38:6C:CA auto-mac=no comment=bridge01 name=bridge01
/interface ethernet
set [ find default-name=ether1 ] comment=ether01 l2mtu=1500 mac-address=F4:28:53:7F:A4:59 name=ether01
set [ find default-name=ether2 ] comment=ether02 name=ether02
set [ find default-name=ether3 ] comment=ether03 name=ether03
set [ find default-name=ether4 ] comment=ether04 name=ether04
set [ find default-name=ether5 ] comment=ether05 name=ether05
/interface list
add comment=defconf name=WAN
add comment=defconf name=LAN
add comment=wireguard name=WG
/ip pool
add comment=bridge01 name=bridge01 ranges=192.168.1.10-192.168.1.254
/ip dhcp-server
add address-pool=bridge01 comment=bridge01 interface=bridge01 lease-time=10m name=bridge01
/interface bridge port
add bridge=bridge01 comment=bridge01-ether02 interface=ether02
add bridge=bridge01 comment=bridge01-ether03 interface=ether03
add bridge=bridge01 comment=bridge01-ether04 interface=ether04
add bridge=bridge01 comment=bridge01-ether05 interface=ether05
/ip neighbor discovery-settings
set discover-interface-list=LAN
/interface list member
add comment=LAN-bridge01 interface=bridge01 list=LAN
add comment=WAN-ether01 interface=ether01 list=WAN
/ip address
add address=192.168.1.1/24 comment=bridge01 interface=bridge01 network=192.168.1.0
/ip dhcp-client
add comment=defconf interface=ether01 use-peer-dns=no
/ip dhcp-server network
add address=192.168.1.0/24 comment=defconf dns-server=192.168.1.1 gateway=192.168.1.1
add address=192.168.2.0/24 dns-server=192.168.2.1 gateway=192.168.2.1
/ip dns
set allow-remote-requests=yes servers=1.1.1.2,1.0.0.2 use-doh-server=https://odoh.cloudflare-dns.com/dns-query verify-doh-cert=yes
/ip dns static
add address=192.168.88.1 comment=defconf name=router.lan type=A
/ip firewall filter
add action=accept chain=input comment="defconf: accept established,related,untracked" connection-state=established,related,untracked
add action=drop chain=input comment="defconf: drop invalid" connection-state=invalid log-prefix=drop-invalid
add action=accept chain=input comment="defconf: accept ICMP" protocol=icmp
add action=accept chain=input comment="defconf: accept to local loopback (for CAPsMAN)" dst-address=127.0.0.1
add action=drop chain=input comment="defconf: drop all not coming from LAN" in-interface-list=!LAN log-prefix=drop-not-coming-from-lan
add action=accept chain=forward comment="defconf: accept in ipsec policy" ipsec-policy=in,ipsec
add action=accept chain=forward comment="defconf: accept out ipsec policy" ipsec-policy=out,ipsec
add action=accept chain=forward comment="defconf: accept established,related, untracked" connection-state=established,related,untracked
add action=drop chain=forward comment="defconf: drop invalid" connection-state=invalid log-prefix=drop-invalid
add action=drop chain=forward comment="defconf: drop all from WAN not DSTNATed" connection-nat-state=!dstnat connection-state=new in-interface-list=WAN log-prefix=\
    drop-from-wan-not-dstnated
add action=accept chain=input in-interface=bridge01 protocol=gre
/ip firewall nat
add action=masquerade chain=srcnat comment="defconf: masquerade" ipsec-policy=out,none out-interface-list=WAN
/ip service
set www disabled=yes
/system clock
set time-zone-name=Europe/Moscow
/system identity
set name=router01.dc01.alwaldend.com
/tool mac-server
set allowed-interface-list=LAN
/tool mac-server mac-winbox
set allowed-interface-list=LAN
