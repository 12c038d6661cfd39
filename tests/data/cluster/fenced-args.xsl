<?xml version="1.0"?>
<!-- vmfence test data: what cman's fenced writes to a fence agent's stdin
     for victim $node: every attribute of the <fencedevice> the node's first
     method names, then every attribute of the node's <device>, except
     "name" (so agent=... and the device's domain=/port=/action= are
     included), one name=value per line, then nodename=<victim>. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:param name="node"/>
  <xsl:template match="/">
    <xsl:variable name="dev"
        select="/cluster/clusternodes/clusternode[@name = $node]/fence/method[1]/device[1]"/>
    <xsl:for-each select="/cluster/fencedevices/fencedevice[@name = $dev/@name]/@*[name() != 'name']">
      <xsl:value-of select="concat(name(), '=', ., '&#10;')"/>
    </xsl:for-each>
    <xsl:for-each select="$dev/@*[name() != 'name']">
      <xsl:value-of select="concat(name(), '=', ., '&#10;')"/>
    </xsl:for-each>
    <xsl:value-of select="concat('nodename=', $node, '&#10;')"/>
  </xsl:template>
</xsl:stylesheet>
