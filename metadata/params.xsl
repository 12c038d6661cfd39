<?xml version="1.0"?>
<!-- vmfence - metadata/params.xsl: list "name getopt" of every parameter of
     an agent metadata document, one per line (used by check-metadata.sh). -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:template match="/">
    <xsl:for-each select="/resource-agent/parameters/parameter">
      <xsl:value-of select="@name"/>
      <xsl:text> </xsl:text>
      <xsl:value-of select="getopt/@mixed"/>
      <xsl:text>&#10;</xsl:text>
    </xsl:for-each>
  </xsl:template>
</xsl:stylesheet>
